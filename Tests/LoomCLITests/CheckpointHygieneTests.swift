// The run directory's promises: the last `checkpoint.keep` files kept, `latest.h5` on the
// newest, a corrupt newest file skipped on resume, a failing write leaving the older
// checkpoints intact and either stopping the run (`checkpoint.max_consecutive_failures: 0`)
// or, by default, letting it go on to the next checkpoint.

import Foundation
import Testing

@Suite struct CheckpointHygieneTests {
    @Test func onlyTheLastKeepCheckpointsRemainAndLatestNamesTheNewest() throws {
        let reference = try ReferenceRun.get()
        let spec = reference.spec
        let steps = RunFiles.checkpointSteps(in: spec.runDirectory)
        #expect(steps == [spec.totalSteps - 2, spec.totalSteps - 1, spec.totalSteps], "checkpoints kept: \(steps)")
        #expect(RunFiles.latestTarget(in: spec.runDirectory) == "ckpt-\(String(format: "%08d", spec.totalSteps)).h5")
        #expect(try RunFiles.step(of: spec.latest) == spec.totalSteps)
        #expect(RunFiles.temporaryFiles(in: spec.runDirectory).isEmpty)
    }

    @Test func resumeAutoSkipsATruncatedNewestCheckpointAndStillEndsIdentical() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("truncated-newest")
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 0, keep: 10)
        let child = try ws.start(spec.arguments(), tag: "first")
        try #require(child.waitForLog("step 19/"), "no progress: \(child.stderr)")
        child.signal(SIGTERM)
        let first = child.wait()
        let steps = RunFiles.checkpointSteps(in: spec.runDirectory)
        try #require(first.status == 0 && steps.count >= 2 && steps.last! > 16, "checkpoints \(steps): \(first.stderr)")
        // Cut the newest checkpoint in half, as a crash of a non-atomic writer would.
        let newest = spec.checkpoint(step: steps.last!)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: newest))

        let second = try ws.loom(spec.arguments(["--resume", "auto"]))
        #expect(second.status == 0, "\(second.stderr)")
        let warnings = lines(of: second.stderr, containing: "skipping checkpoint")
        #expect(warnings.count == 1 && warnings[0].contains(URL(fileURLWithPath: newest).lastPathComponent),
                "expected a warning about the truncated file, stderr:\n\(second.stderr)")
        let previous = steps[steps.count - 2]
        #expect(second.stderr.contains("at step \(previous)"), "not resumed from step \(previous): \(second.stderr)")
        try reference.expectSame(as: spec, in: ws, "resumed past a truncated newest checkpoint")
    }

    @Test func aCheckpointThatCannotBeWrittenStopsTheRunAndKeepsTheOlderOnes() throws {
        let ws = try Workspace("blocked-write")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 2, keep: 10)
        spec.extra = ["checkpoint.max_consecutive_failures=0"]
        // A directory squatting on the name of the second checkpoint: the rename into place fails.
        try FileManager.default.createDirectory(atPath: spec.checkpoint(step: 4) + "/squatter", withIntermediateDirectories: true)
        let result = try ws.loom(spec.arguments())
        expectCleanFailure(result, naming: ["step 4", "ckpt-00000004.h5"], "blocked checkpoint write")
        #expect(!result.stderr.contains("step 5/"), "the run went on after a failed checkpoint:\n\(result.stderr)")
        #expect(RunFiles.checkpointSteps(in: spec.runDirectory) == [2, 4])
        #expect(RunFiles.latestTarget(in: spec.runDirectory) == "ckpt-00000002.h5")
        #expect(RunFiles.temporaryFiles(in: spec.runDirectory).filter { $0.hasPrefix(".ckpt-") }.isEmpty,
                "a failed write left its temporary file")
        let inspect = try ws.loom(["inspect", spec.checkpoint(step: 2)])
        #expect(inspect.status == 0, "the older checkpoint no longer reads: \(inspect.stderr)")
        #expect(try RunFiles.step(of: spec.latest) == 2)
    }

    @Test func byDefaultTheRunGoesOnPastACheckpointThatCannotBeWritten() throws {
        let ws = try Workspace("blocked-write-goes-on")
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 2, keep: 40)
        try FileManager.default.createDirectory(atPath: spec.checkpoint(step: 4) + "/squatter", withIntermediateDirectories: true)
        let result = try ws.loom(spec.arguments())
        #expect(result.status == 0 && !result.signalled, "\(result.stderr.suffix(1500))")
        let failures = lines(of: result.stderr, containing: "training goes on and the next checkpoint tries again")
        #expect(failures.count == 1 && failures[0].contains("checkpoint at step 4 failed (1 in a row"), "\(failures)")
        #expect(result.stderr.contains("checkpoints are written again (step 6, after 1 failed)"), "\(result.stderr.suffix(1500))")
        #expect(RunFiles.checkpointSteps(in: spec.runDirectory) == Array(stride(from: 2, through: spec.totalSteps, by: 2)))
        #expect(RunFiles.latestTarget(in: spec.runDirectory) == "ckpt-\(String(format: "%08d", spec.totalSteps)).h5")
        #expect(RunFiles.temporaryFiles(in: spec.runDirectory).filter { $0.hasPrefix(".ckpt-") }.isEmpty)
        // Nothing of the failure reaches the weights: the end equals the reference run's.
        try ReferenceRun.get().expectSame(as: spec, in: ws, "a run past a failed checkpoint")
    }

    @Test func aRunDirectoryUnderARegularFileIsAClearError() throws {
        let ws = try Workspace("dir-under-file")
        try ws.write("plainfile", "not a directory\n")
        var spec = TrainSpec(workspace: ws, run: "plainfile/run")
        spec.epochs = 1
        let result = try ws.loom(spec.arguments())
        expectCleanFailure(result, naming: ["plainfile/run"], "run directory under a file")
    }
}

@Suite struct ResumeValidationTests {
    @Test func resumingFromACheckpointOfAnotherModelNamesTheMismatchedTensor() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("other-model")
        var spec = TrainSpec(workspace: ws, run: "run")
        spec.extra = ["model.layers.3.out=64"]
        // The config change is refused first, naming the key; allowed, the tensors still do not fit.
        let refused = try ws.loom(spec.arguments(["--resume", reference.spec.latest]))
        expectCleanFailure(refused, naming: ["model.layers.3.out: 128 -> 64", "--allow-config-change"], "resume with another model")
        let result = try ws.loom(spec.arguments(["--resume", reference.spec.latest, "--allow-config-change"]))
        expectCleanFailure(result, naming: ["l2.weight", "[64, 256]"], "resume from another model")
        #expect(RunFiles.checkpointSteps(in: spec.runDirectory).isEmpty, "a refused resume wrote checkpoints")
    }

    @Test(.enabled(if: Python.hasH5py, "python3 with h5py and numpy is not installed: skipped"))
    func resumeAutoSkipsANewestCheckpointHoldingNaNAndStillEndsIdentical() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("nan-newest")
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 0, keep: 10)
        let first = try ws.loom(spec.arguments())
        try #require(first.status == 0, "\(first.stderr)")
        #expect(RunFiles.checkpointSteps(in: spec.runDirectory) == [8, 16, 24, 32])
        // One poisoned weight in the newest file, written in place by h5py.
        let (status, output) = try Python.run("""
            import sys, h5py
            with h5py.File(sys.argv[1], "r+") as f:
                f["model/l1/weight"][3, 5] = float("nan")
            """, arguments: [spec.checkpoint(step: 32)])
        try #require(status == 0, "h5py could not poison the file: \(output)")

        let second = try ws.loom(spec.arguments(["--resume", "auto"]))
        #expect(second.status == 0, "\(second.stderr)")
        let warnings = lines(of: second.stderr, containing: "skipping checkpoint")
        #expect(warnings.count == 1 && warnings[0].contains("ckpt-00000032.h5") && warnings[0].contains("NaN"),
                "expected a warning naming the NaN, stderr:\n\(second.stderr)")
        #expect(second.stderr.contains("at step 24"), "not resumed from step 24: \(second.stderr)")
        try reference.expectSame(as: spec, in: ws, "resumed past a checkpoint holding NaN")
    }
}
