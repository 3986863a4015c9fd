// Nothing lost by a second run: `loom train` refuses to start a new run over another
// run's checkpoints, --fresh keeps them under a new name, and a resume says which config
// keys changed, refuses those that break an exact resume unless allowed, and records the
// changes in the checkpoints it writes. Real processes and files.

import Foundation
import Testing

/// The names in `directory` with their sizes and modification times: what "untouched" means.
private func snapshot(_ directory: String) -> [String: String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    var out: [String: String] = [:]
    for name in names {
        let a = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)
        out[name] = "\(a?[.size] ?? 0) \((a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
    }
    return out
}

/// `loom inspect --json CHECKPOINT`.
private func inspectJSON(_ ws: Workspace, _ checkpoint: String) throws -> [String: Any] {
    let result = try ws.loom(["inspect", checkpoint, "--json"])
    #expect(result.status == 0, "inspect failed: \(result.stderr)")
    return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
}

/// `config_changes` of `loom inspect --json CHECKPOINT`.
private func recordedChanges(_ ws: Workspace, _ checkpoint: String) throws -> [String] {
    try inspectJSON(ws, checkpoint)["config_changes"] as? [String] ?? []
}

@Suite struct RunDirectoryGuardTests {
    /// A finished 2-epoch run (16 steps) in `run`.
    private func trainedRun(_ ws: Workspace, _ run: String) throws -> TrainSpec {
        var spec = TrainSpec(workspace: ws, run: run, everySteps: 4)
        spec.epochs = 2
        let first = try ws.loom(spec.arguments())
        try #require(first.status == 0, "the first run failed: \(first.stderr)")
        return spec
    }

    @Test func aSecondRunIntoAUsedDirectoryIsRefusedAndTouchesNothing() throws {
        let ws = try Workspace("guard-second")
        let spec = try trainedRun(ws, "run")
        let before = snapshot(spec.runDirectory)
        let runID = try #require(try inspectJSON(ws, spec.latest)["run_id"] as? String)
        let second = try ws.loom(spec.arguments())
        expectCleanFailure(second, naming: [spec.runDirectory, "run \(runID)", "--resume auto", "--fresh"], "second train")
        #expect(snapshot(spec.runDirectory) == before, "the refused run changed the run directory")
    }

    @Test func freshKeepsTheOldRunUnderANewNameAndStartsAnother() throws {
        let ws = try Workspace("guard-fresh")
        let spec = try trainedRun(ws, "run")
        let before = snapshot(spec.runDirectory)
        let fresh = try ws.loom(spec.arguments(["--fresh"]))
        #expect(fresh.status == 0, "--fresh failed: \(fresh.stderr)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: ws.directory.path)
            .filter { $0.hasPrefix("run.") }
        try #require(kept.count == 1, "expected one kept directory, found \(kept)")
        #expect(snapshot(ws.path(kept[0])) == before, "the kept directory differs from the old run")
        #expect(fresh.stderr.contains("kept the previous run directory as \(ws.path(kept[0]))"))
        #expect(RunFiles.checkpointSteps(in: spec.runDirectory).last == 16, "the new run did not train to the end")
    }

    @Test func freshAndResumeTogetherAreRefused() throws {
        let ws = try Workspace("guard-fresh-resume")
        let spec = try trainedRun(ws, "run")
        expectCleanFailure(try ws.loom(spec.arguments(["--fresh", "--resume", "auto"])),
                           naming: ["--fresh", "--resume"], "--fresh --resume")
    }

    @Test func aResumeWithAnAllowedChangeNamesItAndRecordsItInTheCheckpoints() throws {
        let ws = try Workspace("guard-lr")
        var spec = try trainedRun(ws, "run")
        spec.epochs = 3
        spec.extra = ["optimizer.lr=0.01"]
        let resumed = try ws.loom(spec.arguments(["--resume", "auto"]))
        #expect(resumed.status == 0, "the resume failed: \(resumed.stderr)")
        #expect(resumed.stderr.contains("config changed since ckpt-00000016.h5: optimizer.lr: 0.05 -> 0.01"))
        #expect(resumed.stderr.contains("training.epochs: 2 -> 3"))
        let recorded = try recordedChanges(ws, spec.latest)
        #expect(recorded.count == 1, "\(recorded)")
        #expect(recorded.first?.hasPrefix("step 16 at ") == true, "\(recorded)")
        #expect(recorded.first?.contains("optimizer.lr: 0.05 -> 0.01") == true, "\(recorded)")
    }

    @Test func aResumeWithABreakingChangeIsRefusedUnlessAllowed() throws {
        let ws = try Workspace("guard-batch")
        var spec = try trainedRun(ws, "run")
        let before = snapshot(spec.runDirectory)
        spec.epochs = 3
        spec.extra = ["training.micro_batch=4"]
        let refused = try ws.loom(spec.arguments(["--resume", "auto"]))
        expectCleanFailure(refused, naming: ["training.micro_batch: 8 -> 4", "--allow-config-change", "--fresh"], "micro-batch change")
        #expect(!refused.stderr.contains("error: resuming") || !refused.stderr.contains("optimizer"), "an allowed key was blamed")
        #expect(snapshot(spec.runDirectory) == before, "the refused resume changed the run directory")

        let allowed = try ws.loom(spec.arguments(["--resume", "auto", "--allow-config-change"]))
        #expect(allowed.status == 0, "--allow-config-change failed: \(allowed.stderr)")
        #expect(allowed.stderr.contains("do not match an uninterrupted run"))
        let recorded = try recordedChanges(ws, spec.latest)
        #expect(recorded.first?.contains("training.micro_batch: 8 -> 4 (breaks an exact resume)") == true, "\(recorded)")
    }

    @Test func changesRecordedAtEarlierResumesAreKept() throws {
        let ws = try Workspace("guard-history")
        var spec = try trainedRun(ws, "run")
        spec.epochs = 3
        spec.extra = ["optimizer.lr=0.02"]
        #expect(try ws.loom(spec.arguments(["--resume", "auto"])).status == 0)
        spec.epochs = 4
        spec.extra = ["optimizer.lr=0.01"]
        #expect(try ws.loom(spec.arguments(["--resume", "auto"])).status == 0)
        let recorded = try recordedChanges(ws, spec.latest)
        #expect(recorded.count == 2, "\(recorded)")
        #expect(recorded.last?.hasPrefix("step 24 at ") == true && recorded.last?.contains("0.02 -> 0.01") == true, "\(recorded)")
    }

    @Test func theCoordinatorRefusesAUsedDirectoryToo() throws {
        let ws = try Workspace("guard-coordinator")
        let spec = try trainedRun(ws, "run")
        var args = spec.arguments()
        args[0] = "coordinator"
        let result = try ws.loom(args + ["--bind", "ipc://\(ws.path("c.sock"))"], timeout: 30)
        expectCleanFailure(result, naming: [spec.runDirectory, "--resume auto"], "coordinator")
    }
}
