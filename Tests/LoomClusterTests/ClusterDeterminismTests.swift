// ARCHITECTURE.md, invariant 1, with real processes: whatever the workers do, the weights are the ones of a
// one-process run.

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct ClusterDeterminismTests {
    @Test func oneToFourWorkersGiveTheWeightsOfAOneProcessRun() throws {
        let h = try ClusterHarness("workers", model: "reference-cnn", maxSteps: 3)
        let reference = try h.referenceModel()
        for n in 1...4 {
            let run = "run\(n)"
            // All n in before the first step: a 3-step run could otherwise end before the last joins.
            let coordinator = try h.startCoordinator(run: run, extra: ["--min-workers", "\(n)"])
            for w in 0..<n {
                // Half the workers read the file themselves, half receive the samples.
                try h.startWorker("w\(n)-\(w)", extra: ["--exit-on-shutdown"] + (w % 2 == 1 ? ["--no-local-data"] : []))
            }
            let model = try h.finish(coordinator, run: run)
            #expect(bitwiseEqual(model, reference), "\(n) worker(s): weights differ from the one-process run")
            #expect(h.log("\(run).log").contains("\(n) worker(s) live"), "\(n) worker(s) never all joined: \(h.log("\(run).log"))")
        }
    }

    /// Weights and gradients through /dev/shm for workers on the coordinator's machine, over
    /// the socket for one started with --no-shared-memory and for all with the coordinator's
    /// cluster.shared_memory off: the same weights every time.
    @Test func sharedMemoryOrNotTheWeightsAreTheOneProcessWeights() throws {
        let h = try ClusterHarness("shared-memory", model: "reference-cnn", maxSteps: 4)
        let reference = try h.referenceModel()
        var pids: [Int32] = []
        for (run, coordinatorExtra) in [("mixed", [String]()), ("off", ["--set", "cluster.shared_memory=false"])] {
            let coordinator = try h.startCoordinator(run: run, extra: ["--min-workers", "2"] + coordinatorExtra)
            let workers = [try h.startWorker("\(run)-shm", extra: ["--exit-on-shutdown"]),
                           try h.startWorker("\(run)-socket", extra: ["--exit-on-shutdown", "--no-shared-memory", "--no-local-data"])]
            let model = try h.finish(coordinator, run: run)
            for worker in workers { worker.waitUntilExit() }
            pids += [coordinator.processIdentifier] + workers.map(\.processIdentifier)
            #expect(bitwiseEqual(model, reference), "\(run): weights differ from the one-process run")
            let log = h.log("\(run).log")
            let shared = log.components(separatedBy: "\n").filter { $0.contains("shared memory yes") }
            let counts = try #require(log.components(separatedBy: "through shared memory ").last)
            let total = Int(counts.prefix { $0.isNumber }) ?? -1
            let gradients = Int(try #require(counts.components(separatedBy: "(gradients ").last).prefix { $0.isNumber }) ?? -1
            if run == "mixed" {
                #expect(shared.count == 1, "exactly the first worker uses shared memory: \(shared)")
                // Whole gradient sums of the reference CNN came through the worker's region.
                let joined = h.log("\(run)-shm.log").components(separatedBy: " parameters,").first?.split(separator: " ").last
                let parameters = try #require(joined.flatMap { Int($0) }, "parameter count in the worker's join line")
                #expect(gradients > 0 && gradients % (4 * parameters) == 0 && total > gradients, "\(counts.prefix(60))")
            } else {
                #expect(shared.isEmpty, "\(shared)")
                #expect(total == 0 && gradients == 0, "\(counts.prefix(60))")
            }
        }
        let left = Self.regions(of: pids)
        #expect(left.isEmpty, "regions the coordinators and workers did not remove: \(left)")
    }

    /// /dev/shm region files made by the processes `pids`.
    static func regions(of pids: [Int32]) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? []
        return names.filter { name in
            let fields = name.split(separator: "-")
            guard name.hasPrefix("loom-"), fields.count == 4, let pid = Int32(fields[1]) else { return false }
            return pids.contains(pid)
        }
    }

    @Test func aWorkerKilledMidRunAndReplacedLeavesTheWeightsUnchanged() throws {
        let h = try ClusterHarness("kill", model: "reference-cnn", maxSteps: 24)
        let reference = try h.referenceModel()
        // Both workers in before the first step: a victim slow to start (a loaded host) could
        // otherwise be killed before it joined, and never be declared dead.
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2"])
        let victim = try h.startWorker("victim")
        try h.startWorker("survivor")
        #expect(h.waitFor("step 6/", in: "run.log"))
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        try h.startWorker("replacement")
        let model = try h.finish(coordinator, run: "run")
        #expect(h.log("run.log").contains("declared dead"))
        #expect(bitwiseEqual(model, reference))
    }

    /// The first worker is stopped (SIGSTOP) after step 8 until the late one has joined, so
    /// the late one joins with steps still to go however fast the host; the worker timeout is
    /// long enough that the stopped worker is not declared dead meanwhile.
    @Test func aWorkerJoiningHalfwayLeavesTheWeightsUnchanged() throws {
        let h = try ClusterHarness("join", model: "reference-cnn", maxSteps: 40, extra: ["cluster.worker_timeout_ms=120000"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run")
        let first = try h.startWorker("first")
        try #require(h.waitFor("step 8/", in: "run.log"), "no progress: \(h.log("run.log"))")
        kill(first.processIdentifier, SIGSTOP)
        defer { kill(first.processIdentifier, SIGCONT) }
        try h.startWorker("late", extra: ["--exit-on-shutdown", "--no-local-data"])
        let joined = h.waitFor("2 worker(s) live", in: "run.log")
        let stepsBefore = h.log("run.log").components(separatedBy: "\n").filter { $0.contains("step 40/") }.count
        kill(first.processIdentifier, SIGCONT)
        #expect(joined, "the late worker never joined: \(h.log("run.log"))")
        #expect(stepsBefore == 0, "the run ended before the late worker joined")
        let model = try h.finish(coordinator, run: "run")
        #expect(bitwiseEqual(model, reference))
    }

    @Test func aCoordinatorWithNoWorkerWaitsForOne() throws {
        let h = try ClusterHarness("wait", maxSteps: 2, extra: [])
        let coordinator = try h.startCoordinator(run: "run")
        #expect(h.waitFor("coordinator listening", in: "run.log"))
        Thread.sleep(forTimeInterval: 1)
        #expect(coordinator.isRunning)
        try h.startWorker("w")
        _ = try h.finish(coordinator, run: "run")
    }
}
