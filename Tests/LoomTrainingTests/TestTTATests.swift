// training.test_tta: a finished run also evaluates the test split over data.tta's views, on a
// real run (the synthetic dataset, a small CNN, real checkpoint files).

import Foundation
import Logging
import LoomConfig
import LoomData
import LoomKernels
import LoomTestSupport
import LoomTraining
import Testing

@Suite(.serialized) struct TestTTATests {
    /// 512 train samples, 128 test samples, a quarter of train held out: 3 epochs of 6 steps;
    /// returns the run and how many evaluations `onEvaluation` heard of.
    func run(_ dir: URL, _ name: String, _ extra: [String]) throws -> (run: TrainingRun, evaluations: Int) {
        BLAS.useSingleThread()
        let yaml = """
            name: tiny
            data: {path: \(dir.path)/data.h5, validation_fraction: 0.25, mean: [0.3], std: [0.3], tta: [identity, hflip]}
            model: \(TrainingRunTests.inlineModel)
            heads: [{name: category, kind: softmax, layer: f2}]
            optimizer: {kind: sgd, lr: 0.05, momentum: 0.9}
            training: {seed: 3, epochs: 3, batch_size: 64, micro_batch: 16, log_every_steps: 100}
            checkpoint: {dir: \(dir.path)/\(name), every_steps: 0, keep: 1}
            """
        let config = try ConfigLoader.parse(yaml: yaml, source: "test", overrides: extra, defaultName: "tiny")
        let r = try TrainingRun(config: config, dataset: try Dataset(path: config.data.path), logger: Logger(label: "test"))
        var evaluations = 0
        r.onEvaluation = { _ in evaluations += 1 }
        let outcome = try r.run(executor: LocalExecutor(problem: r.problem, dataset: r.dataset), control: RunControl())
        guard case .finished = outcome else {
            Issue.record("the run did not finish")
            return (r, evaluations)
        }
        return (r, evaluations)
    }

    @Test func aFinishedRunAlsoEvaluatesTheTestSplitOverTheViews() throws {
        let dir = try TestPaths.temporaryDirectory("loom-test-tta")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        let plain = try run(dir, "plain", [])
        #expect(plain.run.finalTestTTA == nil)
        let views = try run(dir, "views", ["training.test_tta=true"])
        let report = try #require(views.run.finalTestTTA)

        // Evaluations change no weights, and the extra one is not among the run's own
        // evaluations (progress lines, metrics): both runs heard of as many.
        #expect(views.run.state.parameters == plain.run.state.parameters)
        #expect(views.evaluations == plain.evaluations)

        // It is the test split over identity + hflip, as `loom eval --tta` computes it, and
        // not the plain evaluation: the mirrored view moves the loss.
        let executor = LocalExecutor(problem: views.run.problem, dataset: views.run.dataset)
        let again = try #require(try views.run.evaluate(split: "test", executor: executor, tta: true))
        let unmirrored = try #require(try views.run.evaluate(split: "test", executor: executor))
        #expect(report.split == "test" && report.count == 128)
        #expect(report.loss == again.loss)
        #expect(report.heads[0].metrics["accuracy"] == again.heads[0].metrics["accuracy"])
        #expect(report.loss != unmirrored.loss)
    }
}
