// training.test_tta: a finished run also evaluates the test split over data.tta's views, on a
// real run (the synthetic dataset, a small CNN, real checkpoint files).

import Foundation
import LoomTestSupport
import LoomTraining
import Testing

@Suite(.serialized) struct TestTTATests {
    /// EvalEveryEpochsTests' run for 3 epochs with `data.tta: [identity, hflip]`, and how
    /// many evaluations `onEvaluation` heard of.
    func run(_ dir: URL, _ name: String, _ extra: [String]) throws -> (run: TrainingRun, evaluations: Int) {
        var evaluations = 0
        let r = try EvalEveryEpochsTests.run(dir, name, ["training.epochs=3", "data.tta=[identity, hflip]"] + extra,
                                             watch: { _ in evaluations += 1 })
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
