// `loom coordinator` on a stop signal, as `loom train` (ResumeTests): SIGTERM writes a
// checkpoint, tells the workers to shut down and exits 0 with the resume hint; the run
// resumed with `--resume auto` ends bitwise identical to the uninterrupted one.

import Foundation
import Testing

@Suite struct CoordinatorSignalTests {
    @Test func aSIGTERMedCoordinatorCheckpointsStopsItsWorkerAndTheResumedRunEndsIdentical() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("coordinator-sigterm")
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 0, keep: 10)
        let bind = "ipc://" + ws.path("coordinator.sock")
        let coordinator = ["coordinator", "--config", TrainSpec.smokeConfig, "--bind", bind]
            + spec.overrides.flatMap { ["--set", $0] }
        let worker = ["worker", "--connect", bind, "--exit-on-shutdown"]
        // The signal is sent while the coordinator is stopped (SIGSTOP) by its line `step 3/`,
        // and handled as it goes on: 29 steps before the end. (Retried all the same, should a
        // run ever end first.)
        var stopped: Int?
        for attempt in 1...3 where stopped == nil {
            try? FileManager.default.removeItem(atPath: spec.runDirectory)
            let c = try ws.start(coordinator, tag: "coordinator\(attempt)")
            try #require(c.waitForLog("coordinator listening"), "\(c.stderr)")
            let w = try ws.start(worker, tag: "worker\(attempt)")
            try #require(stepUntil(c) { c.stderr.contains("step 3/") }, "no progress: \(c.stderr)")
            c.signal(SIGTERM)
            c.signal(SIGCONT)
            let first = c.wait()
            #expect(first.status == 0, "a signalled stop is not a failure: \(first.stderr)")
            stopped = number(after: "stopped at step ", in: first.stderr)
            if stopped != nil {
                #expect(first.stderr.contains("; continue with --resume auto"), "\(first.stderr)")
                #expect(!first.stdout.contains("final checkpoint"), "\(first.stdout)")
            }
            let shutdown = w.wait(timeout: 30)
            #expect(shutdown.status == 0 && !shutdown.signalled, "the worker did not exit on the coordinator's shutdown: \(shutdown.stderr)")
        }
        let stop = try #require(stopped, "three runs ended before SIGTERM reached them")
        #expect(stop < spec.totalSteps)
        #expect(RunFiles.checkpointSteps(in: spec.runDirectory).last == stop,
                "checkpoints \(RunFiles.checkpointSteps(in: spec.runDirectory)), stop at \(stop)")

        let second = try ws.start(coordinator + ["--resume", "auto"], tag: "resumed")
        let w = try ws.start(worker, tag: "worker-resumed")
        let result = second.wait(timeout: 180)
        #expect(result.status == 0, "resume failed: \(result.stderr.suffix(2000))")
        #expect(result.stderr.contains("at step \(stop)"), "not resumed from step \(stop): \(result.stderr.suffix(2000))")
        #expect(result.stdout.contains("final checkpoint: "), "\(result.stdout)")
        #expect(result.stdout.contains("test accuracy ("), "the finished coordinator prints the test summary as `loom train` does: \(result.stdout)")
        #expect(w.wait(timeout: 30).status == 0)
        try reference.expectSame(as: spec, in: ws, "coordinator stopped by SIGTERM at step \(stop)")
    }
}

/// A coordinator that waits for workers (none ever came, or the only one died mid-run) is
/// stopped by SIGTERM or SIGINT as a training one is: it checkpoints what is applied and exits
/// 0 with the resume hint, instead of waiting for SIGKILL.
@Suite struct WaitingCoordinatorStopTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func aCoordinatorWithNoWorkerStops(signal: Int32) throws {
        let ws = try Workspace("coordinator-waiting-\(signal)")
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 0, keep: 10)
        let c = try ws.start(["coordinator", "--config", TrainSpec.smokeConfig, "--bind", "ipc://" + ws.path("c.sock")]
                             + spec.overrides.flatMap { ["--set", $0] }, tag: "coordinator")
        try #require(c.waitForLog("coordinator listening"), "\(c.stderr)")
        c.signal(signal)
        let r = c.wait(timeout: 30)
        #expect(r.status == 0 && !r.signalled, "a waiting coordinator must stop cleanly on signal \(signal): \(r.stderr)")
        #expect(r.stderr.contains("stopped at step 0; continue with --resume auto"), "\(r.stderr)")
        #expect(RunFiles.checkpointSteps(in: spec.runDirectory) == [0], "\(RunFiles.checkpointSteps(in: spec.runDirectory))")
    }

    @Test func aCoordinatorWhoseOnlyWorkerDiedStopsWithItsLastStep() throws {
        let ws = try Workspace("coordinator-orphaned")
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 0, keep: 10)
        let bind = "ipc://" + ws.path("c.sock")
        let c = try ws.start(["coordinator", "--config", TrainSpec.smokeConfig, "--bind", bind]
                             + spec.overrides.flatMap { ["--set", $0] }, tag: "coordinator")
        try #require(c.waitForLog("coordinator listening"), "\(c.stderr)")
        let w = try ws.start(["worker", "--connect", bind], tag: "worker")
        try #require(c.waitForLog("step 2/"), "no progress: \(c.stderr)")
        w.signal(SIGKILL)
        _ = w.wait(timeout: 30)
        // Declared dead after cluster.worker_timeout_ms; the next step then waits for workers.
        try #require(c.waitForLog("no live worker", timeout: 90), "\(c.stderr)")
        c.signal(SIGTERM)
        let r = c.wait(timeout: 30)
        #expect(r.status == 0 && !r.signalled, "\(r.stderr)")
        let stopped = try #require(number(after: "stopped at step ", in: r.stderr), "\(r.stderr)")
        #expect(stopped >= 2 && stopped < spec.totalSteps)
        #expect(RunFiles.checkpointSteps(in: spec.runDirectory).last == stopped)
    }
}
