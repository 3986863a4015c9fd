// training.early_stopping and checkpoint.keep_best on real runs (the synthetic dataset, a
// small CNN, real checkpoint files): when a run stops, what it records, best.h5, and that a
// stopped and resumed run stops at the same step with the same bits as an uninterrupted one.

import Foundation
import Logging
import LoomCheckpoint
import LoomConfig
import LoomData
import LoomKernels
import LoomTestSupport
import LoomTraining
import Testing

@Suite(.serialized) struct EarlyStoppingTests {
    /// 512 train samples, a quarter held out: 6 steps of 64 per epoch; an evaluation every
    /// 2 steps.
    func makeRun(_ dir: URL, run: String, _ extra: [String]) throws -> TrainingRun {
        BLAS.useSingleThread()
        let yaml = """
            name: tiny
            data: {path: \(dir.path)/data.h5, validation_fraction: 0.25, mean: [0.3], std: [0.3]}
            model: \(TrainingRunTests.inlineModel)
            heads: [{name: category, kind: softmax, layer: f2}]
            optimizer: {kind: sgd, lr: 0.05, momentum: 0.9}
            training: {seed: 3, epochs: 6, batch_size: 64, micro_batch: 16, log_every_steps: 3, eval_every_steps: 2}
            checkpoint: {dir: \(dir.path)/\(run), every_steps: 4, keep: 2}
            """
        let config = try ConfigLoader.parse(yaml: yaml, source: "test", overrides: extra, defaultName: "tiny")
        return try TrainingRun(config: config, dataset: try Dataset(path: config.data.path), logger: Logger(label: "test"))
    }

    func fresh() throws -> URL {
        let dir = try TestPaths.temporaryDirectory("loom-early")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        return dir
    }

    func train(_ run: TrainingRun, stopAfter steps: Int? = nil) throws -> RunOutcome {
        let control = RunControl()
        if let steps {
            var taken = 0
            run.onStep = { _, _ in taken += 1; if taken == steps { control.requestStop("test") } }
        }
        return try run.run(executor: LocalExecutor(problem: run.problem, dataset: run.dataset), control: control)
    }

    /// The rows of `history` that hold an evaluation.
    func evaluated(_ history: MetricsHistory, _ column: String) -> [(step: Int, value: Double)] {
        let steps = history["step"] ?? [], values = history[column] ?? []
        return zip(steps, values).filter { !$0.1.isNaN }.map { (Int($0.0), $0.1) }
    }

    @Test func aMetricThatCannotImproveStopsTheRunAfterPatienceEvaluations() throws {
        let dir = try fresh()
        // No accuracy improves on another by more than 1: the first evaluation (step 2) is
        // the best, and the third after it (step 8) ends the run, of 36 steps.
        let run = try makeRun(dir, run: "run", ["training.early_stopping={metric: val_accuracy/category, patience: 3, min_delta: 1}"])
        guard case .finished(let test) = try train(run) else { Issue.record("the run did not finish"); return }
        #expect(test != nil, "the test split is evaluated when the run stops early")
        #expect(run.state.step == 8)
        #expect(run.state.isFinished && run.state.watch.stoppedAtStep == 8)
        let latest = try CheckpointReader.read(run.directory.latestPath)
        #expect(latest.step == 8, "a checkpoint is written where the run stops")
        #expect(latest.extraAttributes["early_stopping_stopped_step"] == "8")
        #expect(latest.extraAttributes["early_stopping_best_step"] == "2")
        #expect(latest.extraAttributes["early_stopping_wait"] == "3")
        #expect(evaluated(latest.metrics, "early_stopping_wait").map(\.step) == [2, 4, 6, 8])
        #expect(evaluated(latest.metrics, "early_stopping_wait").map(\.value) == [0, 1, 2, 3])
        let accuracy = evaluated(latest.metrics, "val_accuracy/category")
        #expect(evaluated(latest.metrics, "early_stopping_value").map(\.value) == accuracy.map(\.value))
        #expect(evaluated(latest.metrics, "early_stopping_best").map(\.value) == Array(repeating: accuracy[0].value, count: 4))
        let csv = try String(contentsOfFile: run.directory.metricsPath, encoding: .utf8)
        #expect(csv.split(separator: "\n").first?.contains("early_stopping_wait") == true)

        // Resuming a run that stopped early trains nothing more.
        let again = try makeRun(dir, run: "run", ["training.early_stopping={metric: val_accuracy/category, patience: 3, min_delta: 1}"])
        try again.resume("auto")
        #expect(again.state.isFinished)
        _ = try train(again)
        #expect(again.state.step == 8)
        // A larger patience on resume lets it go on: the stop follows the config.
        let longer = try makeRun(dir, run: "run", ["training.early_stopping={metric: val_accuracy/category, patience: 5, min_delta: 1}"])
        try longer.resume("auto")
        #expect(!longer.state.isFinished)
        _ = try train(longer)
        #expect(longer.state.step == 12)
    }

    @Test func aStoppedAndResumedRunStopsAtTheSameStepWithTheSameBits() throws {
        let dir = try fresh()
        let watch = ["training.early_stopping={metric: val_loss, patience: 2, min_delta: 0.02}",
                     "checkpoint.keep_best=val_accuracy/mean"]
        let straight = try makeRun(dir, run: "straight", watch)
        _ = try train(straight)
        let stop = straight.state.step
        try #require(stop < straight.state.lastStep, "the straight run should stop early (it ran all \(stop) steps)")
        try #require(stop > 6, "the straight run should stop after its first epoch (it stopped at \(stop))")

        // Stopped (with a checkpoint) after 5 steps and again 3 steps before the stop, resumed each time.
        let interruptions: [Int?] = (stop - 3 > 5 ? [5, stop - 3 - 5] : [5]) + [nil]
        for (attempt, steps) in interruptions.enumerated() {
            let run = try makeRun(dir, run: "interrupted", watch)
            try run.resume("auto")
            if attempt > 0 { #expect(run.state.step > 0) }
            _ = try train(run, stopAfter: steps)
        }
        let a = try CheckpointReader.read(straight.directory.latestPath)
        let b = try CheckpointReader.read(dir.path + "/interrupted/latest.h5")
        #expect(b.step == stop, "the resumed run stopped at step \(b.step), the straight run at \(stop)")
        for (x, y) in zip(a.model, b.model) {
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(x.name)")
        }
        for column in ["step", "val_loss", "val_accuracy/category", "early_stopping_best", "early_stopping_wait"] {
            #expect(a.metrics[column]?.map(\.bitPattern) == b.metrics[column]?.map(\.bitPattern), "\(column)")
        }
        for key in ["early_stopping_best", "early_stopping_best_step", "early_stopping_wait", "early_stopping_stopped_step",
                    "keep_best_value", "keep_best_step"] {
            #expect(a.extraAttributes[key] != nil && a.extraAttributes[key] == b.extraAttributes[key], "\(key)")
        }
        let bestA = try CheckpointReader.read(straight.directory.bestPath)
        let bestB = try CheckpointReader.read(dir.path + "/interrupted/best.h5")
        #expect(bestA.step == bestB.step)
        for (x, y) in zip(bestA.model, bestB.model) {
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "best.h5 \(x.name)")
        }
    }

    @Test func bestCheckpointHoldsTheStepOfTheBestEvaluationAndIsNeverPruned() throws {
        let dir = try fresh()
        let run = try makeRun(dir, run: "run", ["checkpoint.keep_best=val_accuracy/category", "checkpoint.keep=1",
                                                "training.epochs=3"])
        _ = try train(run)
        let latest = try CheckpointReader.read(run.directory.latestPath)
        let accuracy = evaluated(latest.metrics, "val_accuracy/category")
        // The first evaluation of the highest accuracy (a tie does not replace the best).
        let top = accuracy.map(\.value).max()!
        let expected = accuracy.first { $0.value == top }!
        let best = try CheckpointReader.read(run.directory.bestPath)
        #expect(best.step == expected.step)
        #expect(best.extraAttributes["keep_best_value"].flatMap(Double.init) == top)
        #expect(latest.extraAttributes["keep_best_step"] == String(expected.step))
        // best.h5 is a whole checkpoint: it holds the history up to its own evaluation.
        #expect(best.metrics["val_accuracy/category"]?.last == top)
        #expect(run.directory.checkpoints().count == 1, "checkpoint.keep 1 prunes numbered checkpoints only")
        if best.step != latest.step {
            #expect(best.model.map(\.values) != latest.model.map(\.values))
        }
    }

    @Test func theRecordOfAnotherMetricIsStartedAfreshOnResume() throws {
        let dir = try fresh()
        let first = try makeRun(dir, run: "run", ["training.early_stopping={metric: val_accuracy/category, patience: 3, min_delta: 1}",
                                                  "training.max_steps=6"])
        _ = try train(first)
        let resumed = try makeRun(dir, run: "run", ["training.early_stopping={metric: val_loss, patience: 3}"])
        try resumed.resume("auto")
        let record = resumed.state.watch.stopping
        #expect(record.best.isNaN && record.bestStep == -1 && record.wait == 0)
        #expect(resumed.state.watchRestoreNotes.count == 1)
        #expect(resumed.state.watchRestoreNotes.first?.contains("val_accuracy/category max") == true)
    }

    @Test func improvementsMustBeatTheBestByMoreThanMinDelta() {
        var r = MetricRecord()
        let seen: [(Double, Bool)] = [(.nan, false), (0.50, true), (0.505, false), (0.52, true), (0.52, false), (.nan, false)]
        for (value, better) in seen {
            let improved = r.observe(value, step: 0, mode: .max, minDelta: 0.01)
            #expect(improved == better, "\(value)")
        }
        #expect(r.best == 0.52 && r.wait == 2)
        var low = MetricRecord()
        var improved: [Bool] = []
        for value in [1.0, 0.9, 0.9, 1.2] { improved.append(low.observe(value, step: 0, mode: .min, minDelta: 0)) }
        #expect(improved == [true, true, false, false])
        #expect(low.best == 0.9 && low.wait == 2)
    }
}
