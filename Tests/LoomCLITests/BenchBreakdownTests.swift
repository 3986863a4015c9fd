// `loom bench --workers`: the step-time breakdown and the barrier bound, through real
// coordinator, worker and barrier processes (the MLP at a tiny batch, so it is quick even in
// a debug build; the figures themselves are not judged here, only their structure).

import Foundation
import LoomTestSupport
import Testing

@Suite struct BenchBreakdownTests {
    static let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/mlp.yaml").path

    @Test func clusterBenchReportsWhereAStepsTimeWentAndTheBarrierBound() throws {
        let ws = try Workspace("bench-breakdown")
        let result = try ws.loom(["bench", "--model", Self.model, "--batch", "32", "--micro-batch", "8",
                                  "--workers", "1,2", "--seconds", "0.3", "--rounds", "1", "--json"], timeout: 300)
        #expect(result.status == 0, "stderr:\n\(result.stderr)")
        #expect(result.stdout.contains("machine bound at 2:"))
        #expect(result.stdout.contains("1 worker(s): step "))
        let line = try #require(result.stdout.split(separator: "\n").last { $0.hasPrefix("{") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])

        let breakdown = try #require(object["step_breakdown"] as? [[String: Any]])
        #expect(breakdown.count == 2)
        for entry in breakdown {
            let workers = try #require(entry["workers"] as? Int)
            let step = try #require(entry["step_ms"] as? Double)
            let first = try #require(entry["first_result_ms"] as? Double)
            let wait = try #require(entry["straggler_wait_ms"] as? Double)
            let own = try #require(entry["coordinator_ms"] as? Double)
            #expect(first > 0 && own > 0 && first + wait < step, "\(workers) worker(s): \(entry)")
            if workers == 1 {
                #expect(wait == 0, "one worker sends one result per step, so nothing is waited for after it")
            } else {
                #expect(wait > 0, "two results per step do not arrive at the same instant")
            }
        }
        // Local workers take weights and gradients through shared memory (on by default):
        // the bench counts those bytes apart from the socket's.
        let counts = try #require(object["workers"] as? [[String: Any]])
        #expect(counts.count == 2)
        for entry in counts {
            let shared = try #require(entry["shared_memory_bytes_per_step"] as? Double)
            #expect(shared > 0, "\(entry)")
        }
        #expect(result.stdout.contains("MB through shared memory"))
        let sharedBytes = try counts.map { try #require($0["shared_memory_bytes_per_step"] as? Double) }
        let socketBytes = try counts.map { try #require($0["bytes_per_step"] as? Double) }

        // Over the socket instead: nothing goes through shared memory, and the weights go
        // out on the socket (N copies of W bytes per step, where shared memory carried W once
        // plus N gradients of W: a quarter of that is well under what must now be sent).
        let plain = try ws.loom(["bench", "--model", Self.model, "--batch", "32", "--micro-batch", "8",
                                 "--workers", "1,2", "--seconds", "0.3", "--rounds", "1", "--json", "--no-shared-memory"],
                                timeout: 300)
        #expect(plain.status == 0, "stderr:\n\(plain.stderr)")
        let plainLine = try #require(plain.stdout.split(separator: "\n").last { $0.hasPrefix("{") })
        let plainObject = try #require(try JSONSerialization.jsonObject(with: Data(plainLine.utf8)) as? [String: Any])
        let plainCounts = try #require(plainObject["workers"] as? [[String: Any]])
        for (i, entry) in plainCounts.enumerated() {
            #expect(entry["shared_memory_bytes_per_step"] as? Double == 0, "\(entry)")
            let sent = try #require(entry["bytes_per_step"] as? Double)
            #expect(sent > socketBytes[i] + sharedBytes[i] / 4, "socket only \(sent) B/step; with shared memory \(socketBytes[i]) + \(sharedBytes[i])")
        }
        let bound = try #require((object["barrier_bound"] as? [String: Double])?["2"])
        // A ratio of two timings: on a loaded machine it can take any positive value, so only
        // its presence and sign are checked (no test may depend on timing luck).
        #expect(bound > 0 && bound.isFinite, "barrier bound \(bound)")
        let share = try #require(object["fraction_of_barrier_throughput"] as? [String: Double])
        #expect(Set(share.keys) == ["1", "2"])
        #expect(share.values.allSatisfy { $0 > 0 && $0.isFinite })
    }

    /// The child side: a byte out after every step, on until it reads anything but 1.
    @Test func aBarrierProcessStepsUntilToldToStop() throws {
        let (status, out) = try Self.barrierChild(part: 1, parts: 2, input: [1, 1, 0])
        #expect(status == 0)
        #expect(out == [1, 1, 1], "three steps (go, go, stop), one byte each: got \(out)")
    }

    /// Blocks as the coordinator cuts them for workers: 4 micro-shards over 3 processes are
    /// three blocks, so every part runs; a 5th process would have nothing to do.
    @Test func barrierProcessesTakeTheWorkersBlocks() throws {
        let ws = try Workspace("bench-barrier-split")
        for part in 0..<3 {
            let (status, out) = try Self.barrierChild(part: part, parts: 3, input: [0])
            #expect(status == 0 && out == [1], "part \(part) of 3: status \(status), output \(out)")
        }
        let result = try ws.loom(["bench-barrier", "--model", Self.model, "--batch", "32", "--micro-batch", "8",
                                  "--part", "4", "--parts", "5"])
        expectCleanFailure(result, naming: ["part 4 of 5", "4 micro-shards"], "bench-barrier --parts 5")
    }

    /// A barrier process that dies takes the bench down with an error naming it, and no
    /// process is left behind.
    @Test func aKilledBarrierProcessIsReported() throws {
        let ws = try Workspace("bench-child-kill")
        // A model file of this workspace's own, so its barrier processes can be told apart.
        let model = try ws.write("mlp.yaml", try String(contentsOfFile: Self.model, encoding: .utf8))
        let bench = try ws.start(["bench", "--model", model, "--batch", "32", "--micro-batch", "8",
                                  "--workers", "1", "--seconds", "4", "--rounds", "1"], tag: "bench")
        var killed: [Int32] = []
        let deadline = Date().addingTimeInterval(120)
        while killed.isEmpty && Date() < deadline && bench.process.isRunning {
            killed = Self.processes(matching: [" bench-barrier ", model])
            for pid in killed { kill(pid, SIGKILL) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        try #require(!killed.isEmpty, "no barrier process appeared: \(bench.stderr)")
        let result = bench.wait(timeout: 60)
        expectCleanFailure(result, naming: ["barrier process 1 of 1", "killed by signal 9"], "bench with a killed barrier process")
        #expect(Self.processes(matching: [model]).isEmpty, "processes of this bench survived it")
    }

    /// Runs `loom bench-barrier` for `part` of `parts` (the MLP, 4 micro-shards of 8) with
    /// `input` on its stdin; its exit status and everything it wrote to stdout.
    static func barrierChild(part: Int, parts: Int, input bytes: [UInt8]) throws -> (Int32, [UInt8]) {
        let child = try startBarrierChild(part: part, parts: parts)
        try child.toChild.write(contentsOf: bytes)
        let out = try child.fromChild.readToEnd() ?? Data()
        child.process.waitUntilExit()
        return (child.process.terminationStatus, [UInt8](out))
    }

    /// Starts `loom bench-barrier` for `part` of `parts` (the MLP, 4 micro-shards of 8),
    /// with its stdin and stdout at hand.
    static func startBarrierChild(part: Int, parts: Int, model: String = model, environment: [String: String] = [:])
        throws -> (process: Process, toChild: FileHandle, fromChild: FileHandle) {
        let process = Process()
        process.executableURL = TestPaths.loomExecutable
        process.arguments = ["bench-barrier", "--model", model, "--batch", "32", "--micro-batch", "8",
                             "--part", "\(part)", "--parts", "\(parts)"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        return (process, input.fileHandleForWriting, output.fileHandleForReading)
    }

    /// Process ids whose command line contains every one of `needles`.
    static func processes(matching needles: [String]) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != getpid(),
                  let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let line = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return needles.allSatisfy { line.contains($0) } ? pid : nil
        }
    }
}
