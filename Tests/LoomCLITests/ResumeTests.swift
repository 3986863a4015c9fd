// Invariant 3 with real processes: a single-process run killed (SIGKILL), stopped
// (SIGTERM) or asked for a checkpoint (SIGUSR1) ends bitwise identical to one that was
// left alone.

import Foundation
import Testing

/// SIGKILLs `child` as soon as a checkpoint temporary file (`.ckpt-*.tmp-*`) appears in
/// `directory`. Returns false when the process ended (or `timeout` passed) first.
func killDuringCheckpointWrite(_ child: LoomChild, directory: String, timeout: Double = 60) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline && child.isRunning {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        if names.contains(where: { $0.hasPrefix(".ckpt-") && $0.contains(".tmp-") }) {
            child.signal(SIGKILL)
            return true
        }
        usleep(200)
    }
    return false
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
    /// Eight kills: the first inside the very first checkpoint write (nothing to resume
    /// from yet); each later one after its attempt wrote a checkpoint (so the run advances),
    /// alternately inside the next checkpoint write and at a random moment.
    @Test func aRunSIGKILLedRepeatedlyAndResumedWithAutoEndsIdentical() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("sigkill")
        let spec = TrainSpec(workspace: ws, run: "run")
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var rng = SplitMix64(seed: seed)
        var kills: [String] = []
        var midWrite = 0
        for attempt in 1...8 {
            let child = try ws.start(spec.arguments(["--resume", "auto"]), tag: "attempt\(attempt)")
            if attempt > 1 {
                try #require(child.waitForLog("checkpoint \(spec.runDirectory)/ckpt-"),
                             "attempt \(attempt) wrote no checkpoint: \(child.stderr.suffix(1500))")
            }
            if attempt % 2 == 1 {
                _ = killDuringCheckpointWrite(child, directory: spec.runDirectory)
            } else {
                usleep(UInt32(rng.next() % 20_000))
                child.signal(SIGKILL)
            }
            let result = child.wait()
            try #require(result.signalled, "attempt \(attempt) ended before its kill (status \(result.status)); kills so far: \(kills)")
            let leftovers = RunFiles.temporaryFiles(in: spec.runDirectory).filter { $0.hasPrefix(".ckpt-") }
            if !leftovers.isEmpty { midWrite += 1 }
            kills.append("\(RunFiles.checkpointSteps(in: spec.runDirectory))\(leftovers.isEmpty ? "" : " + a partial write")")
        }
        let history = "checkpoints after each kill (seed \(seed)): \(kills.joined(separator: "; "))"
        let last = try ws.loom(spec.arguments(["--resume", "auto"]))
        try #require(last.status == 0, "the last resume failed: \(last.stderr.suffix(2000)); \(history)")
        #expect(midWrite > 0, "no kill landed during a checkpoint write; \(history)")
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
        // On a fast machine the run may end before the signal lands: then try again.
        var stopped: Int?
        for attempt in 1...3 where stopped == nil {
            try? FileManager.default.removeItem(atPath: spec.runDirectory)
            let child = try ws.start(spec.arguments(), tag: "first\(attempt)")
            try #require(child.waitForLog("step 3/"), "no progress: \(child.stderr)")
            child.signal(signal)
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
