// training.freeze / freeze_epochs and optimizer.trunk_lr_scale: the fine-tuning recipe's
// knobs. Frozen is a function of the step, so a run resumed across the unfreezing step
// matches an uninterrupted one bit for bit.

import Foundation
import Logging
import LoomCheckpoint
import LoomConfig
import LoomData
import LoomKernels
import LoomTestSupport
import LoomTraining
import Testing

@Suite(.serialized) struct FreezeTests {
    /// 512 train samples in batches of 64: 8 steps per epoch.
    func makeRun(_ dir: URL, run: String, _ extra: [String]) throws -> TrainingRun {
        BLAS.useSingleThread()
        let yaml = """
            name: tiny
            data: {path: \(dir.path)/data.h5, mean: [0.3], std: [0.3]}
            model: \(TrainingRunTests.inlineModel)
            heads: [{name: category, kind: softmax, layer: f2}]
            optimizer: {kind: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005}
            training: {seed: 3, epochs: 2, batch_size: 64, micro_batch: 16, log_every_steps: 4}
            checkpoint: {dir: \(dir.path)/\(run), every_steps: 0, keep: 2}
            """
        let config = try ConfigLoader.parse(yaml: yaml, source: "test", overrides: extra, defaultName: "tiny")
        return try TrainingRun(config: config, dataset: try Dataset(path: config.data.path), logger: Logger(label: "test"))
    }

    func fresh() throws -> URL {
        let dir = try TestPaths.temporaryDirectory("loom-freeze")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        return dir
    }

    func values(_ run: TrainingRun, _ name: String) -> [Float] {
        Array(run.state.parameters[run.problem.model.parameters.view(named: name)!.range])
    }

    @Test func aFrozenTrunkTrainsOnlyTheHeadUntilItsEpochThenEverything() throws {
        let dir = try fresh()
        let run = try makeRun(dir, run: "run", ["training.freeze=trunk", "training.freeze_epochs=1"])
        #expect(run.state.freezing.layers == ["c1", "b1", "f1"])
        #expect(run.state.freezing.unfreezeStep == 8)
        let trunk = ["c1.weight", "b1.weight", "f1.bias"]
        let start = trunk.map { values(run, $0) }, headStart = values(run, "f2.weight")
        let c1 = run.problem.model.parameters.view(named: "c1.weight")!
        var atUnfreezing: [[Float]] = [], headAtUnfreezing: [Float] = [], slotAtUnfreezing: [Float] = []
        run.onStep = { summary, _ in
            guard summary.step == 7 else { return }
            atUnfreezing = trunk.map { values(run, $0) }
            headAtUnfreezing = values(run, "f2.weight")
            slotAtUnfreezing = Array(run.state.optimizer.state.slots["momentum_buffer"]![c1.range])
        }
        _ = try run.run(executor: LocalExecutor(problem: run.problem, dataset: run.dataset), control: RunControl())
        #expect(atUnfreezing == start, "the trunk changed during the frozen epoch")
        #expect(headAtUnfreezing != headStart, "the head did not train during the frozen epoch")
        for (name, before) in zip(trunk, start) { #expect(values(run, name) != before, "\(name) did not train after epoch 1") }
        // A frozen layer's optimizer slots stay empty while it is frozen.
        #expect(slotAtUnfreezing.allSatisfy { $0 == 0 } && !slotAtUnfreezing.isEmpty)
        #expect(run.state.optimizer.state.slots["momentum_buffer"]![c1.range].contains { $0 != 0 })
    }

    @Test func aRunResumedAcrossTheUnfreezingStepKeepsTheBits() throws {
        let dir = try fresh()
        // Adam: its bias correction counts a frozen group's steps from the unfreezing step.
        let knobs = ["training.freeze=trunk", "training.freeze_epochs=1", "optimizer.kind=adamw",
                     "optimizer.lr=0.002", "optimizer.trunk_lr_scale=0.1"]
        let straight = try makeRun(dir, run: "straight", knobs)
        _ = try straight.run(executor: LocalExecutor(problem: straight.problem, dataset: straight.dataset), control: RunControl())
        for steps in [5, 6, nil] {   // stopped at step 5 (frozen), 11 (unfrozen), then to the end
            let run = try makeRun(dir, run: "interrupted", knobs)
            try run.resume("auto")
            let control = RunControl()
            if let steps {
                var taken = 0
                run.onStep = { _, _ in taken += 1; if taken == steps { control.requestStop("test") } }
            }
            _ = try run.run(executor: LocalExecutor(problem: run.problem, dataset: run.dataset), control: control)
        }
        let a = try CheckpointReader.read(straight.directory.latestPath)
        let b = try CheckpointReader.read(dir.path + "/interrupted/latest.h5")
        #expect(a.step == 16 && b.step == 16)
        for (x, y) in zip(a.model, b.model) {
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(x.name)")
        }
        #expect(a.optimizer.slots == b.optimizer.slots)
    }

    @Test func adamCountsAFrozenGroupsStepsFromItsFirstUpdate() throws {
        var config = OptimizerConfig()
        config.kind = .adam
        config.lr = 0.01
        let late = try Optimizer(config: config, parameterCount: 4,
                                 groups: [ParameterGroup(range: 2..<4, trainsFromStep: 2)])
        let fresh = try Optimizer(config: config, parameterCount: 4)
        let gradients: [[Float]] = [[0.5, -1, 3, 2], [0.25, 1, -1, 0.5], [1, 2, 0.5, -2], [-0.5, 0.75, 1.5, 1]]
        var w: [Float] = [1, 2, 3, 4], v: [Float] = [1, 2, 3, 4]
        for (i, g) in gradients.enumerated() {
            late.step(weights: &w, gradients: g, lr: 0.01)
            if i == 1 { #expect(Array(w[2...]) == [3, 4], "frozen until step 2") }
            // The group's elements as a fresh optimizer sees them from step 2 on; the others from the start.
            if i >= 2 { fresh.step(weights: &v, gradients: [0, 0] + g[2...], lr: 0.01) }
        }
        let plain = try Optimizer(config: config, parameterCount: 4)
        var u: [Float] = [1, 2, 3, 4]
        for g in gradients { plain.step(weights: &u, gradients: g, lr: 0.01) }
        #expect(Array(w[..<2]).map(\.bitPattern) == Array(u[..<2]).map(\.bitPattern))
        #expect(Array(w[2...]).map(\.bitPattern) == Array(v[2...]).map(\.bitPattern))
    }

    @Test func trunkLRScaleSlowsTheTrunkAndLeavesTheHeadAlone() throws {
        let dir = try fresh()
        func oneStep(_ scale: Double) throws -> TrainingRun {
            let run = try makeRun(dir, run: "scale\(scale)", ["optimizer.trunk_lr_scale=\(scale)", "optimizer.momentum=0",
                                                              "optimizer.weight_decay=0", "training.max_steps=1"])
            _ = try run.run(executor: LocalExecutor(problem: run.problem, dataset: run.dataset), control: RunControl())
            return run
        }
        let full = try oneStep(1), tenth = try oneStep(0.1), none = try oneStep(0)
        let start = try makeRun(dir, run: "start", [])
        // Same weights and batch at step 0, so the same gradients: the head's update is the same bits.
        for name in ["f2.weight", "f2.bias"] {
            #expect(values(tenth, name).map(\.bitPattern) == values(full, name).map(\.bitPattern), "\(name)")
        }
        for name in ["c1.weight", "f1.weight"] {
            #expect(values(none, name) == values(start, name), "\(name) moved with trunk_lr_scale 0")
            let d1 = zip(values(full, name), values(start, name)).map { Double($0 - $1) }
            let d01 = zip(values(tenth, name), values(start, name)).map { Double($0 - $1) }
            let n1 = d1.map { $0 * $0 }.reduce(0, +).squareRoot(), n01 = d01.map { $0 * $0 }.reduce(0, +).squareRoot()
            #expect(n1 > 0 && abs(n01 / n1 - 0.1) < 0.01, "\(name): update norm ratio \(n01 / n1)")
        }
    }

    @Test func freezingALayerTheModelDoesNotHaveNamesTheKey() throws {
        let dir = try fresh()
        #expect {
            _ = try makeRun(dir, run: "run", ["training.freeze=[c1, nope]"])
        } throws: { error in
            "\(error)".contains("training.freeze: cannot freeze 'nope': the model has no such layer")
        }
    }
}
