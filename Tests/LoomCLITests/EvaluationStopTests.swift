// A stop that lands in an in-training evaluation (`loom train --workers 0`, SIGTERM between
// two chunks of the validation predictions): the step is checkpointed without its history
// row, the checkpoint says an evaluation is pending, and the resumed run evaluates that step
// first, so its metrics.csv and checkpoint history equal an uninterrupted run's.

import Foundation
import LoomHDF5
import Testing

@Suite struct EvaluationStopTests {
    /// The reference CNN on 4096 train samples, half held out for validation, evaluated every
    /// 4 of 8 steps: an evaluation of 2048 samples takes many chunks, a step a few.
    static func arguments(_ ws: Workspace, run: String) -> [String] {
        ["train", "--config", TrainSpec.smokeConfig] + [
            "data.path=\(ws.datasetPath)", "data.validation_fraction=0.5", "training.max_steps=8",
            "training.batch_size=32", "training.micro_batch=16", "training.eval_every_steps=4",
            "training.log_every_steps=1", "checkpoint.every_steps=0", "checkpoint.keep=10", "checkpoint.dir=\(ws.path(run))",
        ].flatMap { ["--set", $0] }
    }

    @Test func aStopDuringTheEvaluationKeepsTheRowForTheResumedRun() throws {
        let ws = try Workspace("stop-in-evaluation", train: 4096, test: 64)
        let reference = try ws.loom(Self.arguments(ws, run: "reference"))
        try #require(reference.status == 0, "\(reference.stderr)")

        let child = try ws.start(Self.arguments(ws, run: "run"), tag: "train")
        // `step 4/8` is logged after the step and before its evaluation.
        try #require(stepUntil(child) { child.stderr.contains("step 4/8 ") }, "\(child.stderr)")
        child.signal(SIGTERM)
        child.signal(SIGCONT)
        let stopped = child.wait(timeout: 60)
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("stopped at step 4; continue with --resume auto"), "\(stopped.stderr)")
        let validations = lines(of: stopped.stderr, containing: "info train: validation (")
        #expect(validations.isEmpty, "the evaluation finished before the stop: \(validations)")

        // Step 4 is checkpointed with its evaluation pending, and has no row yet.
        let run = ws.path("run")
        #expect(RunFiles.checkpointSteps(in: run) == [4], "\(RunFiles.checkpointSteps(in: run))")
        let file = try HDF5File.open(run + "/ckpt-00000004.h5")
        let pending = try file.root.stringAttribute("pending_evaluation", on: "extra")
        file.close()
        #expect(pending?.hasPrefix("step=4 samples_per_s=") == true, "\(pending ?? "none")")
        let partial = try MetricsTable(file: run + "/metrics.csv")
        #expect(partial.column("step") == [1, 2, 3], "\(partial.column("step"))")

        let resumed = try ws.loom(Self.arguments(ws, run: "run") + ["--resume", "auto"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("evaluating step 4 first: a stop interrupted its evaluation"), "\(resumed.stderr)")
        let mine = try MetricsTable(file: ws.path("reference/metrics.csv")).withoutTimings
        let theirs = try MetricsTable(file: run + "/metrics.csv").withoutTimings
        #expect(mine.column("step") == (1...8).map(Double.init))
        #expect(!mine.column("val_loss").filter { !$0.isNaN }.isEmpty, "the reference has no validation: \(mine.columns)")
        #expect(mine == theirs, "metrics.csv differs: \(mine.firstDifference(from: theirs))")
        let diff = try ws.loom(["diff", ws.path("reference/latest.h5"), run + "/latest.h5"])
        #expect(diff.status == 0, "\(diff.stdout.prefix(2000))")
        // The checkpoint of step 4 was written again with its row: its history is the reference's at step 4.
        let a = MetricsTable(csv: try ws.loom(["inspect", "--metrics-csv", run + "/ckpt-00000004.h5"]).stdout).withoutTimings
        #expect(a.column("step") == [1, 2, 3, 4] && a.rows == Array(mine.rows.prefix(4)), "\(a.firstDifference(from: mine))")
        let rewritten = try HDF5File.open(run + "/ckpt-00000004.h5")
        #expect(((try? rewritten.root.stringAttribute("pending_evaluation", on: "extra")) ?? nil) == nil)
        rewritten.close()
    }
}
