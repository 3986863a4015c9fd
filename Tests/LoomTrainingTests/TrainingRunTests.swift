import Foundation
import Logging
import LoomCheckpoint
import LoomConfig
import LoomData
import LoomKernels
import LoomTestSupport
import LoomTraining
import Testing

@Suite(.serialized) struct TrainingRunTests {

    func config(_ dir: URL, _ extra: [String] = []) throws -> RunConfig {
        let yaml = """
            name: tiny
            data: {path: \(dir.path)/data.h5, mean: [0.3], std: [0.3], augment: {crop_padding: 2, hflip: true}}
            model: \(Self.inlineModel)
            heads: [{name: category, kind: softmax, layer: f2}]
            optimizer: {kind: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005}
            schedule: {kind: cosine, unit: step}
            training: {seed: 3, epochs: 2, batch_size: 64, micro_batch: 16, log_every_steps: 3}
            checkpoint: {dir: \(dir.path)/run, every_steps: 4, keep: 2}
            """
        return try ConfigLoader.parse(yaml: yaml, source: "test", overrides: extra, defaultName: "tiny")
    }

    static var inlineModel: String {
        "{input: [1, 28, 28], layers: [{kind: conv2d, name: c1, out: 4, kernel: 3, padding: 1}, {kind: batchnorm2d, name: b1}, {kind: relu}, {kind: maxpool2d, kernel: 2}, {kind: flatten}, {kind: linear, name: f1, out: 16}, {kind: relu}]}"
    }

    func makeRun(_ dir: URL, _ extra: [String] = []) throws -> TrainingRun {
        // As the CLI does: the runs compared bit for bit need OpenBLAS on one thread.
        BLAS.useSingleThread()
        let cfg = try config(dir, extra)
        return try TrainingRun(config: cfg, dataset: try Dataset(path: cfg.data.path), logger: Logger(label: "test"))
    }

    func fresh() throws -> URL {
        let dir = try TestPaths.temporaryDirectory("loom-run")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        return dir
    }

    @Test func aRunLearnsTheSyntheticTask() throws {
        let dir = try fresh()
        let run = try makeRun(dir, ["training.epochs=6"])
        let outcome = try run.run(executor: LocalExecutor(problem: run.problem, dataset: run.dataset), control: RunControl())
        guard case .finished(let test?) = outcome else { Issue.record("no test report"); return }
        #expect(test.heads[0].metrics["accuracy"]! > 0.8)
        #expect(run.directory.checkpoints().count == 2, "checkpoint.keep is 2")
    }

    @Test func stoppingAndResumingGivesTheSameBitsAsOneRun() throws {
        let dir = try fresh()
        let straight = try makeRun(dir, ["checkpoint.dir=\(dir.path)/straight"])
        _ = try straight.run(executor: LocalExecutor(problem: straight.problem, dataset: straight.dataset), control: RunControl())

        // Stop after 5 steps (the driver checkpoints on stop), resume twice.
        var resumedStep = -1
        for attempt in 0..<3 {
            let run = try makeRun(dir, ["checkpoint.dir=\(dir.path)/interrupted"])
            try run.resume("auto")
            if attempt > 0 { #expect(run.state.step > resumedStep) }
            resumedStep = run.state.step
            let control = RunControl()
            if attempt < 2 {
                var steps = 0
                run.onStep = { _, _ in steps += 1; if steps == 5 { control.requestStop("test") } }
            }
            _ = try run.run(executor: LocalExecutor(problem: run.problem, dataset: run.dataset), control: control)
        }
        let a = try CheckpointReader.read(straight.directory.latestPath)
        let b = try CheckpointReader.read(dir.path + "/interrupted/latest.h5")
        #expect(a.step == b.step)
        for (x, y) in zip(a.model, b.model) {
            #expect(x.name == y.name)
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(x.name)")
        }
        #expect(a.optimizer.slots == b.optimizer.slots)
        for column in ["step", "lr", "train_loss", "test_loss", "test_accuracy/category"] {
            #expect(a.metrics[column]?.map(\.bitPattern) == b.metrics[column]?.map(\.bitPattern), "\(column)")
        }
    }

    @Test func microShardResultsDoNotDependOnHowTheBlockIsCut() throws {
        let dir = try fresh()
        let run = try makeRun(dir)
        let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
        let plan = run.state.plan(step: 0)
        let whole = try executor.execute(plan: plan, state: run.state)
        // Compute each micro-shard alone and combine in tree order.
        let computer = ShardComputer(problem: run.problem, microBatch: plan.microBatch)
        var leaves: [ShardBlock: ShardResult] = [:]
        for s in 0..<plan.shardCount {
            let block = ShardBlock(start: s, count: 1)
            let work = plan.work(block, seed: run.problem.config.training.seed)
            let data = try executor.load(split: "train", indices: work.sampleIDs)
            leaves[block] = try computer.compute(work, data: data, parameters: run.state.parameters,
                                                 buffers: run.state.buffers)
        }
        let combined = ReductionTree.reduce(ShardBlock(start: 0, count: plan.shardCount), value: { leaves[$0] },
                                            combine: { $0.add($1) })!
        #expect(combined.gradients.map(\.bitPattern) == whole.gradients.map(\.bitPattern))
        #expect(combined.batchStatistics.map(\.bitPattern) == whole.batchStatistics.map(\.bitPattern))
        #expect(combined.headSums == whole.headSums)
    }

    @Test func aNonFiniteResultNeverReachesTheWeights() throws {
        let dir = try fresh()
        let run = try makeRun(dir)
        let plan = run.state.plan(step: 0)
        var result = try LocalExecutor(problem: run.problem, dataset: run.dataset).execute(plan: plan, state: run.state)
        result.gradients[7] = .nan
        let before = run.state.parameters
        #expect(throws: TrainingError.self) { _ = try run.state.apply(plan: plan, result: result) }
        #expect(run.state.parameters == before)
        #expect(run.state.step == 0)
    }

    @Test func plansArePureFunctionsOfTheStep() throws {
        let dir = try fresh()
        let a = try makeRun(dir), b = try makeRun(dir)
        for s in [0, 3, 7, 9] { #expect(a.state.plan(step: s) == b.state.plan(step: s)) }
        #expect(a.state.plan(step: 0).sampleIndices != a.state.plan(step: 8).sampleIndices)
        // Loss scales: weight / labelled samples of the global batch.
        #expect(a.state.plan(step: 0).headScales == [1 / 64])
    }

    @Test func freezingALayerKeepsItsWeights() throws {
        let dir = try fresh()
        let run = try makeRun(dir, ["training.epochs=1"])
        let runFrozen = try TrainingRun(config: run.config, dataset: run.dataset, logger: Logger(label: "t"), frozenLayers: ["c1"])
        let view = runFrozen.problem.model.parameters.view(named: "c1.weight")!
        let before = Array(runFrozen.state.parameters[view.range])
        let f1 = runFrozen.problem.model.parameters.view(named: "f1.weight")!
        let f1Before = Array(runFrozen.state.parameters[f1.range])
        _ = try runFrozen.run(executor: LocalExecutor(problem: runFrozen.problem, dataset: runFrozen.dataset), control: RunControl())
        #expect(Array(runFrozen.state.parameters[view.range]) == before)
        #expect(Array(runFrozen.state.parameters[f1.range]) != f1Before)
        #expect(throws: TrainingError.self) {
            _ = try TrainingRun(config: run.config, dataset: run.dataset, logger: Logger(label: "t"), frozenLayers: ["nope"])
        }
    }
}
