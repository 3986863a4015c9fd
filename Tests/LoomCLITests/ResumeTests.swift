// ARCHITECTURE.md, invariant 3, with real processes: a single-process run killed (SIGKILL), stopped
// (SIGTERM) or asked for a checkpoint (SIGUSR1) ends bitwise identical to one that was
// left alone.

import Foundation
import Testing
import LoomTestSupport

/// Whether every thread of `pid` is stopped (SIGSTOP): it then runs nothing until SIGCONT.
func isStopped(_ pid: Int32) -> Bool {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    guard !tasks.isEmpty else { return false }
    return tasks.allSatisfy { task in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }  // the thread is gone
        let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
        return state == "T" || state == "t" || state == "Z" || state == "X"
    }
}

/// Runs `child` in short windows (SIGCONT, a fraction of a millisecond, SIGSTOP) and calls
/// `look` each time it is stopped, until `look` says true. While stopped the child does
/// nothing: what `look` saw (a log line, a file) is still so when the caller acts on it, and
/// the child moved on by at most one window since the previous look. Returns true with the
/// child left stopped (the caller SIGKILLs it, or signals it and sends SIGCONT); false, with
/// it running, if it ended first or `timeout` s passed.
func stepUntil(_ child: LoomChild, timeout: Double = 120, _ look: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline && child.isRunning {
        child.signal(SIGSTOP)
        while child.isRunning && !isStopped(child.pid) && Date() < deadline { usleep(20) }
        guard child.isRunning, isStopped(child.pid) else { break }
        if look() { return true }
        child.signal(SIGCONT)
        usleep(UInt32.random(in: 200...1000))
    }
    child.signal(SIGCONT)
    return false
}

/// Checkpoint temporary files (`.ckpt-*.tmp-<pid>`) of process `pid` in `directory`: a
/// checkpoint write of that process under way (or cut short).
func checkpointTemporaries(of pid: Int32, in directory: String) -> [String] {
    RunFiles.temporaryFiles(in: directory).filter { $0.hasPrefix(".ckpt-") && $0.hasSuffix(".tmp-\(pid)") }
}

/// Lines of `log` that contain `text`.
func lines(of log: String, containing text: String) -> [Substring] {
    log.split(separator: "\n").filter { $0.contains(text) }
}

/// The integer after `prefix` in the first line of `log` holding it.
func number(after prefix: String, in log: String) -> Int? {
    guard let range = log.range(of: prefix) else { return nil }
    return Int(log[range.upperBound...].prefix { $0.isNumber })
}

@Suite struct ResumeTests {
    /// Eight kills (SIGKILL), each of a run that is stopped (SIGSTOP) and looked at between
    /// short windows of work (`stepUntil`), so that a kill lands in the state that was seen:
    /// odd attempts inside a checkpoint write when one is caught (the first attempt in its very
    /// first writes, with nothing to resume from yet), even ones at a random moment; each later
    /// attempt only after it wrote a checkpoint (so the run advances). Every attempt is killed
    /// by its line `step <resumed + 3>/` at the latest: with 8 attempts of at most 3 steps, no
    /// attempt comes near the end of the 32-step run, however fast the host.
    @Test func aRunSIGKILLedRepeatedlyAndResumedWithAutoEndsIdentical() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("sigkill")
        let spec = TrainSpec(workspace: ws, run: "run")
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var rng = TestRandom(seed: seed)
        var kills: [String] = []
        var midWrite = 0
        for attempt in 1...8 {
            let resumed = RunFiles.checkpointSteps(in: spec.runDirectory).last ?? 0
            let lastStep = resumed + 3
            let child = try ws.start(spec.arguments(["--resume", "auto"]), tag: "attempt\(attempt)")
            let wrote = "checkpoint \(spec.runDirectory)/ckpt-"
            let randomLooks = Int(rng.next() % 16)
            var looks = 0
            let caught = stepUntil(child) {
                let log = child.stderr
                if log.contains("step \(lastStep)/") { return true }
                guard attempt == 1 || log.contains(wrote) else { return false }
                looks += 1
                return attempt % 2 == 1
                    ? !checkpointTemporaries(of: child.pid, in: spec.runDirectory).isEmpty
                    : looks > randomLooks
            }
            child.signal(SIGKILL)
            let result = child.wait()
            try #require(caught && result.signalled,
                         "attempt \(attempt) ended before its kill (status \(result.status)); kills so far: \(kills): \(child.stderr.suffix(1500))")
            if attempt > 1 {
                try #require(result.stderr.contains(wrote), "attempt \(attempt) wrote no checkpoint: \(result.stderr.suffix(1500))")
            }
            let leftovers = checkpointTemporaries(of: child.pid, in: spec.runDirectory)
            if !leftovers.isEmpty { midWrite += 1 }
            kills.append("\(RunFiles.checkpointSteps(in: spec.runDirectory))\(leftovers.isEmpty ? "" : " + a partial write")")
        }
        let history = "checkpoints after each kill (seed \(seed)): \(kills.joined(separator: "; "))"
        let last = try ws.loom(spec.arguments(["--resume", "auto"]))
        try #require(last.status == 0, "the last resume failed: \(last.stderr.suffix(2000)); \(history)")
        // Best effort: catching a write takes a look while one is under way (likely, not
        // certain, from outside the process), so a miss is reported, not failed.
        if midWrite == 0 {
            Issue.record("no kill landed during a checkpoint write; \(history)", severity: .warning)
        }
        #expect(RunFiles.temporaryFiles(in: spec.runDirectory).filter { $0.hasPrefix(".ckpt-") }.isEmpty,
                "stale temporary files survived the resumed run")
        try reference.expectSame(as: spec, in: ws, "SIGKILLed run; \(history)")
    }

    /// SIGTERM (Slurm, kill) and SIGINT (Ctrl-C) both mean: checkpoint, then stop.
    @Test(arguments: [SIGTERM, SIGINT])
    func aStopSignalCheckpointsAndStopsAndTheResumedRunEndsIdentical(signal: Int32) throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("sigterm")
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 0, keep: 10)
        // The signal is sent while the run is stopped (SIGSTOP) by its line `step 3/`, and
        // handled as it goes on: 29 steps before the end. (Retried all the same, should a
        // run ever end first.)
        var stopped: Int?
        for attempt in 1...3 where stopped == nil {
            try? FileManager.default.removeItem(atPath: spec.runDirectory)
            let child = try ws.start(spec.arguments(), tag: "first\(attempt)")
            try #require(stepUntil(child) { child.stderr.contains("step 3/") }, "no progress: \(child.stderr)")
            child.signal(signal)
            child.signal(SIGCONT)
            let first = child.wait()
            #expect(first.status == 0, "a signalled stop is not a failure: \(first.stderr)")
            stopped = number(after: "stopped at step ", in: first.stderr)
        }
        let stop = try #require(stopped, "three runs ended before signal \(signal) reached them")
        #expect(stop < spec.totalSteps)
        #expect(RunFiles.checkpointSteps(in: spec.runDirectory).last == stop,
                "checkpoints \(RunFiles.checkpointSteps(in: spec.runDirectory)), stop at \(stop)")
        #expect(RunFiles.latestTarget(in: spec.runDirectory) == URL(fileURLWithPath: spec.checkpoint(step: stop)).lastPathComponent)

        let second = try ws.loom(spec.arguments(["--resume", "auto"]))
        #expect(second.status == 0, "resume failed: \(second.stderr)")
        #expect(second.stderr.contains("at step \(stop)"), "not resumed from step \(stop): \(second.stderr)")
        try reference.expectSame(as: spec, in: ws, "signal \(signal) at step \(stop)")
    }

    @Test func sigusr1WritesACheckpointAndTheRunGoesOnUnchanged() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("sigusr1")
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 0, keep: 10)
        var taken: Substring?
        for attempt in 1...3 where taken == nil {
            try? FileManager.default.removeItem(atPath: spec.runDirectory)
            let child = try ws.start(spec.arguments(), tag: "run\(attempt)")
            try #require(child.waitForLog("step 2/"), "no progress: \(child.stderr)")
            // A request that arrives right after an epoch-end checkpoint has nothing new to
            // write; ask until one is written.
            while child.isRunning && !child.stderr.contains("(checkpoint requested (SIGUSR1))") {
                child.signal(SIGUSR1)
                usleep(5_000)
            }
            let result = child.wait()
            #expect(result.status == 0, "\(result.stderr)")
            taken = lines(of: result.stderr, containing: "(checkpoint requested (SIGUSR1))").first
        }
        let line = try #require(taken, "three runs ended before a SIGUSR1 checkpoint")
        let step = try #require(number(after: "ckpt-", in: String(line)))
        #expect(step % 8 != 0, "the SIGUSR1 checkpoint is at an epoch end: \(line)")
        #expect(FileManager.default.fileExists(atPath: spec.checkpoint(step: step)))
        try reference.expectSame(as: spec, in: ws, "a run that took a SIGUSR1 checkpoint")

        // The checkpoint taken on request resumes exactly too.
        let again = TrainSpec(workspace: ws, run: "again", everySteps: 0, keep: 10)
        try FileManager.default.createDirectory(atPath: again.runDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: spec.checkpoint(step: step), toPath: again.checkpoint(step: step))
        let resumed = try ws.loom(again.arguments(["--resume", "auto"]))
        #expect(resumed.status == 0, "\(resumed.stderr)")
        try reference.expectSame(as: again, in: ws, "resumed from the SIGUSR1 checkpoint at step \(step)")
    }
}
