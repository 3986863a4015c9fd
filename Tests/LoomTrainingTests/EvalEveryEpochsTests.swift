// training.eval_every_epochs: which epoch ends evaluate, on a real run (the synthetic
// dataset, a small CNN, real checkpoint files).

import Foundation
import Logging
import LoomCheckpoint
import LoomConfig
import LoomData
import LoomKernels
import LoomTestSupport
import LoomTraining
import Testing

@Suite(.serialized) struct EvalEveryEpochsTests {
    /// 512 train samples, a quarter held out: 6 steps of 64 per epoch, 5 epochs (`extra`
    /// overrides any of it); `watch` hears of the run's evaluations.
    static func run(_ dir: URL, _ name: String, _ extra: [String],
                    watch: ((EvaluationReport) -> Void)? = nil) throws -> TrainingRun {
        BLAS.useSingleThread()
        let yaml = """
            name: tiny
            data: {path: \(dir.path)/data.h5, validation_fraction: 0.25, mean: [0.3], std: [0.3]}
            model: \(TrainingRunTests.inlineModel)
            heads: [{name: category, kind: softmax, layer: f2}]
            optimizer: {kind: sgd, lr: 0.05, momentum: 0.9}
            training: {seed: 3, epochs: 5, batch_size: 64, micro_batch: 16, log_every_steps: 100}
            checkpoint: {dir: \(dir.path)/\(name), every_steps: 0, keep: 1}
            """
        let config = try ConfigLoader.parse(yaml: yaml, source: "test", overrides: extra, defaultName: "tiny")
        let r = try TrainingRun(config: config, dataset: try Dataset(path: config.data.path), logger: Logger(label: "test"))
        r.onEvaluation = watch
        guard case .finished = try r.run(executor: LocalExecutor(problem: r.problem, dataset: r.dataset), control: RunControl()) else {
            Issue.record("the run did not finish")
            return r
        }
        return r
    }

    /// The steps whose history row holds a validation accuracy.
    func evaluatedSteps(_ r: TrainingRun) throws -> [Int] {
        let history = try CheckpointReader.read(r.directory.latestPath).metrics
        let steps = history["step"] ?? [], values = history["val_accuracy/category"] ?? []
        return zip(steps, values).filter { !$0.1.isNaN }.map { Int($0.0) }
    }

    @Test func everyNthEpochEndAndTheLastOneEvaluate() throws {
        let dir = try TestPaths.temporaryDirectory("loom-eval-epochs")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        let every = try Self.run(dir, "every", [])
        #expect(try evaluatedSteps(every) == [6, 12, 18, 24, 30])
        let second = try Self.run(dir, "second", ["training.eval_every_epochs=2"])
        #expect(try evaluatedSteps(second) == [12, 24, 30])
        let last = try Self.run(dir, "last", ["training.eval_every_epochs=0"])
        #expect(try evaluatedSteps(last) == [30])
        // Evaluations read the weights and change nothing in them.
        #expect(last.state.parameters == every.state.parameters)
        let steps = try Self.run(dir, "steps", ["training.eval_every_epochs=0", "training.eval_every_steps=8"])
        #expect(try evaluatedSteps(steps) == [8, 16, 24, 30])
    }
}
