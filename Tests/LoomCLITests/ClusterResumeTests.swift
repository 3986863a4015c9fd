// ARCHITECTURE.md, invariants 1 and 3, for `loom train --workers N`: a coordinator SIGKILLed and restarted
// with `--resume auto` ends identical to the one-process run, and its worker children
// never outlive it. (Worker counts against `loom coordinator` + `loom worker` are
// covered by LoomClusterTests; here the `train --workers N` path is checked once.)

import Foundation
import Testing

/// The processes of this machine, read from /proc.
enum ProcessTable {
    /// Pids whose parent is `parent`.
    static func children(of parent: Int32) -> [Int32] {
        allPIDs().filter { parentPID(of: $0) == parent }
    }

    static func isAlive(_ pid: Int32) -> Bool {
        // A zombie is dead for our purposes: it has stopped running.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
        return state != "Z" && state != "X"
    }

    static func commandLine(of pid: Int32) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
    }

    private static func allPIDs() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    private static func parentPID(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }
}

@Suite struct ClusterResumeTests {
    /// The `loom worker` children of `coordinator`, waiting up to `timeout` s for `count`.
    func workers(of coordinator: LoomChild, count: Int, timeout: Double = 30) -> [Int32] {
        let deadline = Date().addingTimeInterval(timeout)
        var found: [Int32] = []
        while Date() < deadline && coordinator.isRunning {
            found = ProcessTable.children(of: coordinator.pid).filter { ProcessTable.commandLine(of: $0).contains(" worker ") }
            if found.count >= count { break }
            usleep(10_000)
        }
        return found
    }

    @Test func aSIGKILLedCoordinatorResumedWithAutoEndsIdenticalAndLeavesNoWorker() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("cluster-kill")
        let spec = TrainSpec(workspace: ws, run: "run")
        var kills: [String] = []
        var midWrite = false
        var orphans: [Int32] = []
        defer { for pid in orphans where ProcessTable.isAlive(pid) { kill(pid, SIGKILL) } }
        for attempt in 1...3 {
            let resumeStep = RunFiles.checkpointSteps(in: spec.runDirectory).last ?? 0
            let child = try ws.start(spec.arguments(["--workers", "2", "--resume", "auto"]), tag: "attempt\(attempt)")
            let pids = workers(of: child, count: 2)
            #expect(pids.count == 2, "attempt \(attempt): \(pids.count) worker children found")
            orphans += pids
            // The coordinator runs in short windows and is looked at while stopped (SIGSTOP),
            // so the kill lands in the state seen: the first inside a checkpoint write when
            // one is caught, and every one by the line `step <resumed + 2>/` at the latest,
            // far from the end of the run however fast the host.
            let landed = stepUntil(child) {
                if child.stderr.contains("step \(resumeStep + 2)/") { return true }
                return attempt == 1 && !checkpointTemporaries(of: child.pid, in: spec.runDirectory).isEmpty
            }
            child.signal(SIGKILL)
            let result = child.wait()
            try #require(landed && result.signalled, "attempt \(attempt): the coordinator ended before the kill: \(result.stderr.suffix(1500))")
            let partial = !checkpointTemporaries(of: child.pid, in: spec.runDirectory).isEmpty
            if attempt == 1 { midWrite = partial }
            kills.append("checkpoints \(RunFiles.checkpointSteps(in: spec.runDirectory))\(partial ? " + a partial write" : "")")
            // The workers notice their coordinator is gone and exit by themselves.
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline && pids.contains(where: ProcessTable.isAlive) { usleep(50_000) }
            let survivors = pids.filter(ProcessTable.isAlive)
            #expect(survivors.isEmpty, "worker(s) \(survivors) outlived their SIGKILLed coordinator by 15 s: \(survivors.map(ProcessTable.commandLine))")
        }
        // Best effort: catching a write takes a look while one is under way (likely, not
        // certain, from outside the process), so a miss is reported, not failed.
        if !midWrite {
            Issue.record("the first kill did not land during a checkpoint write (\(kills.joined(separator: "; ")))", severity: .warning)
        }
        let last = try ws.start(spec.arguments(["--workers", "2", "--resume", "auto"]), tag: "last")
        let lastWorkers = workers(of: last, count: 2)
        orphans += lastWorkers
        let result = last.wait(timeout: 180)
        #expect(result.status == 0, "the final resume failed: \(result.stderr.suffix(2000))")
        #expect(!lastWorkers.contains(where: ProcessTable.isAlive), "workers survived a finished run")
        try reference.expectSame(as: spec, in: ws, "coordinator SIGKILLed (\(kills.joined(separator: "; ")))")
    }

    @Test func threeLocalWorkersGiveTheOneProcessResult() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("cluster-three")
        let spec = TrainSpec(workspace: ws, run: "run")
        let result = try ws.loom(spec.arguments(["--workers", "3"]), timeout: 180)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        try reference.expectSame(as: spec, in: ws, "train --workers 3")
    }
}
