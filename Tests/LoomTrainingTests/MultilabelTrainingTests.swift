// A run with a softmax head and a multilabel head (dense targets with missing elements),
// end to end in one process: gradients, learning, masking.

import Foundation
import Logging
import LoomConfig
import LoomData
import LoomKernels
import LoomTestSupport
import LoomTraining
import Testing

/// A multilabel run on `MultilabelDataset`, set up as `loom train` does (without a driver).
final class MultilabelFixture {
    let directory: URL
    let run: TrainingRun
    let executor: LocalExecutor

    init(_ name: String, missing: Float = .nan, trunk: String = MultilabelDataset.mlpTrunk,
         overrides: [String] = []) throws {
        // As the CLI does: the runs compared bit for bit need OpenBLAS on one thread.
        BLAS.useSingleThread()
        directory = try TestPaths.temporaryDirectory("loom-multilabel-\(name)")
        let data = directory.appendingPathComponent("data.h5").path
        try MultilabelDataset.write(to: data, missing: missing)
        let yaml = MultilabelDataset.config(dataPath: data, runDirectory: directory.appendingPathComponent("run").path,
                                            trunk: trunk)
        let config = try ConfigLoader.parse(yaml: yaml, source: "multilabel-test", overrides: overrides,
                                            defaultName: "multilabel-test")
        run = try TrainingRun(config: config, dataset: try Dataset(path: data), logger: Logger(label: "test"))
        executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    var state: TrainingState { run.state }

    /// One optimizer step.
    func step() throws {
        let plan = state.plan(step: state.step)
        _ = try state.apply(plan: plan, result: try executor.execute(plan: plan, state: state))
    }

    func evaluateTest() throws -> EvaluationReport {
        try Evaluation.run(split: "test", indices: Array(0..<(try run.dataset.split("test").count)),
                           dataset: run.dataset, state: state, executor: executor)
    }

    /// The step's total loss Σ_h scale_h Σ loss_h (what the summed gradient differentiates).
    static func totalLoss(_ plan: StepPlan, _ result: ShardResult) -> Double {
        plan.headScales.indices.reduce(0.0) { $0 + Double(plan.headScales[$1]) * result.sum(head: $1, .loss) }
    }
}

@Suite(.serialized) struct MultilabelTrainingTests {
    @Test func aMultilabelHeadResolvesFromTheDatasetTargets() throws {
        let f = try MultilabelFixture("resolve")
        let tags = try #require(f.run.problem.heads.first { $0.name == "tags" })
        #expect(tags.usesTargets && tags.classes == 5 && tags.classNames == MultilabelDataset.tagNames)
        #expect(f.run.problem.losses[1].formula == .binaryCrossEntropy(posWeight: []))
        #expect(!f.run.problem.heads[0].usesTargets)
    }

    @Test func wholeModelGradientWithAMultilabelHeadMatchesFiniteDifferences() throws {
        // A smooth trunk (no ReLU kink for a finite step to cross), with 1-D batch norm over
        // each micro-shard of 8: the gradient flows from both heads through the statistics.
        let f = try MultilabelFixture("gradcheck", trunk: "[{kind: flatten}, {kind: linear, name: l1, out: 16}, {kind: batchnorm1d, name: bn}]")
        let state = f.state
        let plan = state.plan(step: 0)
        let base = try f.executor.execute(plan: plan, state: state)
        let parameters = state.parameters
        // The batch has masked tag elements: the check covers the masked loss.
        #expect(base.sum(head: 1, .normalizer) < Double(plan.sampleIndices.count * 5))

        var worst = 0.0
        var checked = 0
        for view in state.problem.model.parameters.views {
            // Every parameter of the heads, a spread of the trunk's.
            let stride = view.name.hasPrefix("head_") ? 1 : max(1, view.count / 40)
            for i in Swift.stride(from: view.offset, to: view.offset + view.count, by: stride) {
                var plus = parameters, minus = parameters
                plus[i] += 1e-2
                minus[i] -= 1e-2
                state.parameters = plus
                let lp = MultilabelFixture.totalLoss(plan, try f.executor.execute(plan: plan, state: state))
                state.parameters = minus
                let lm = MultilabelFixture.totalLoss(plan, try f.executor.execute(plan: plan, state: state))
                let numerical = (lp - lm) / Double(plus[i] - minus[i])
                let analytic = Double(base.gradients[i])
                let error = abs(numerical - analytic) / max(1e-3, abs(numerical) + abs(analytic))
                worst = max(worst, error)
                checked += 1
            }
        }
        state.parameters = parameters
        #expect(checked > 200)
        #expect(worst < 5e-3, "worst relative gradient error \(worst) over \(checked) parameters")
    }

    @Test func trainingLearnsTheTagsWellAboveChance() throws {
        let f = try MultilabelFixture("learn")
        let before = try f.evaluateTest()
        for _ in 0..<300 { try f.step() }
        let after = try f.evaluateTest()
        let tags = after.heads[1].metrics, start = before.heads[1].metrics
        // Chance mAP is the positive rate, 0.4; a head trained without its targets stays
        // near its random start.
        #expect(tags["map"]! > 0.9, "mAP \(tags["map"]!) (before training \(start["map"]!))")
        #expect(tags["map"]! > start["map"]! + 0.25, "mAP \(start["map"]!) -> \(tags["map"]!)")
        #expect(tags["top3_recall"]! > 0.85)
        #expect(tags["bce"]! < start["bce"]! / 2)
        #expect(after.heads[0].metrics["accuracy"]! > 0.8, "the softmax head learns alongside")
        // Evaluation counts only labelled elements: about 85 % of 128 x 5.
        #expect(tags["count"]! > 450 && tags["count"]! < 600)
    }

    @Test func maskedTagElementsContributeNothing() throws {
        // The same samples with the missing elements stored as NaN or as -1: the same step to
        // the bit. Storing them as 0 (labelled) changes it: the comparison can see targets.
        let nan = try MultilabelFixture("mask-nan")
        let minusOne = try MultilabelFixture("mask-minus-one", missing: -1)
        let zero = try MultilabelFixture("mask-zero", missing: 0)
        let results = try [nan, minusOne, zero].map { f in
            let plan = f.state.plan(step: 0)
            return (plan, try f.executor.execute(plan: plan, state: f.state))
        }
        #expect(results[0].0 == results[1].0, "same plan and loss scales")
        #expect(results[0].1.gradients.map(\.bitPattern) == results[1].1.gradients.map(\.bitPattern))
        #expect(results[0].1.headSums.map(\.bitPattern) == results[1].1.headSums.map(\.bitPattern))
        #expect(results[0].1.gradients != results[2].1.gradients)

        // The normaliser is the number of labelled elements in the batch, from the generator.
        let plan = results[0].0
        let truth = MultilabelDataset.generate("train", count: 512, seed: 5)
        let labelled = plan.sampleIndices.reduce(0) { n, i in n + (0..<5).filter { !truth.tagMissing[i * 5 + $0] }.count }
        #expect(results[0].1.sum(head: 1, .normalizer) == Double(labelled))
        #expect(plan.headScales[1] == Float(1.0 / Double(labelled)))
        #expect(results[2].1.sum(head: 1, .normalizer) == Double(plan.sampleIndices.count * 5))
    }

    @Test func aMaskedElementsLogitGetsNoGradient() throws {
        let f = try MultilabelFixture("mask-logit")
        let data = try f.executor.load(split: "train", indices: Array(0..<16))
        let loss = f.run.problem.losses[1]
        let logits = (0..<(16 * 5)).map { Float($0 % 7) - 3 }
        let (sums, dlogits) = loss.evaluate(logits: logits, targets: data.targets[1])
        for e in 0..<(16 * 5) where data.targets[1][e].isNaN {
            #expect(dlogits[e] == 0)
        }
        #expect(sums.normalizer == Double(data.targets[1].filter { !$0.isNaN }.count))
    }

    @Test func aMultilabelRunStopsAndResumesToTheSameBits() throws {
        let overrides = ["training.max_steps=6", "training.eval_every_steps=3"]
        let f = try MultilabelFixture("resume", overrides: overrides)
        let straight = f.run
        _ = try straight.run(executor: f.executor, control: RunControl())
        let again = try MultilabelFixture("resume2", overrides: overrides)
        let control = RunControl()
        var steps = 0
        again.run.onStep = { _, _ in steps += 1; if steps == 3 { control.requestStop("test") } }
        _ = try again.run.run(executor: again.executor, control: control)
        let resumed = try TrainingRun(config: again.run.config, dataset: again.run.dataset, logger: Logger(label: "test"))
        try resumed.resume("auto")
        #expect(resumed.state.step == 3)
        _ = try resumed.run(executor: LocalExecutor(problem: resumed.problem, dataset: resumed.dataset), control: RunControl())
        #expect(resumed.state.parameters.map(\.bitPattern) == straight.state.parameters.map(\.bitPattern))
        #expect(straight.state.history["test_map/tags"]?.last.map { $0 > 0 } == true)
    }
}
