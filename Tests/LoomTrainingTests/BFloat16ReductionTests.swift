// `cluster.wire: bf16` in the reduction tree: every micro-shard gradient and every sum of
// two is rounded to bf16, so whichever node a worker sends is a bf16 value and the root's
// bits do not depend on who summed what (ARCHITECTURE.md, invariant 1).

import Foundation
import LoomKernels
import LoomTestSupport
import LoomTraining
import Testing

@Suite(.serialized) struct BFloat16ReductionTests {
    @Test func blocksSummedAnyWayGiveTheBitsOfOneComputerAndAreBF16Values() throws {
        let dir = try TestPaths.temporaryDirectory("loom-bf16-tree")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        let run = try TrainingRunTests().makeRun(dir, ["training.batch_size=128", "cluster.wire=bf16"])
        let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
        let plan = run.state.plan(step: 0)
        let seed = run.problem.config.training.seed
        let root = ShardBlock(start: 0, count: plan.shardCount)
        let weights = run.state.computeParameters
        #expect(BFloat16.isExact(weights) && !BFloat16.isExact(run.state.parameters))
        let computer = ShardComputer(problem: run.problem, microBatch: plan.microBatch)
        func compute(_ block: ShardBlock) throws -> ShardResult {
            let work = plan.work(block, seed: seed)
            return try computer.compute(work, data: try executor.load(split: "train", indices: work.sampleIDs),
                                        parameters: weights, buffers: run.state.buffers)
        }
        let whole = try compute(root)
        #expect(BFloat16.isExact(whole.gradients))
        // As workers would: every leaf alone, or two halves, combined by the coordinator.
        for parts in [2, plan.shardCount] {
            var pieces: [ShardBlock: ShardResult] = [:]
            for block in ReductionTree.blocks(leafCount: plan.shardCount, parts: parts) {
                let r = try compute(block)
                #expect(BFloat16.isExact(r.gradients), "block \(block) is not a bf16 value")
                pieces[block] = r
            }
            let sum = try #require(ReductionTree.reduce(root, value: { pieces[$0] }, combine: { $0.combine($1, wire: .bf16) }))
            #expect(sum.gradients.map(\.bitPattern) == whole.gradients.map(\.bitPattern), "\(parts) parts")
        }
        // Two slots (threads) give the same bits too.
        let slots = SlotComputer(problem: run.problem, microBatch: plan.microBatch, slots: 2)
        let work = plan.work(root, seed: seed)
        let threaded = try slots.compute(work, data: try executor.load(split: "train", indices: work.sampleIDs),
                                         parameters: weights, buffers: run.state.buffers)
        #expect(threaded.gradients.map(\.bitPattern) == whole.gradients.map(\.bitPattern))
        // The one-process executor computes with the rounded weights and the rounded tree.
        let local = try executor.execute(plan: plan, state: run.state)
        #expect(local.gradients.map(\.bitPattern) == whole.gradients.map(\.bitPattern))
    }

    @Test func fp32RunsAreUntouched() throws {
        let dir = try TestPaths.temporaryDirectory("loom-bf16-off")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        let run = try TrainingRunTests().makeRun(dir, ["training.batch_size=64"])
        #expect(run.state.computeParameters.map(\.bitPattern) == run.state.parameters.map(\.bitPattern))
        let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
        let r = try executor.execute(plan: run.state.plan(step: 0), state: run.state)
        #expect(!BFloat16.isExact(r.gradients))
    }

    @Test func roundedWeightsFollowTheOptimizer() throws {
        let dir = try TestPaths.temporaryDirectory("loom-bf16-apply")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        let run = try TrainingRunTests().makeRun(dir, ["training.batch_size=64", "cluster.wire=bf16"])
        let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
        let before = run.state.computeParameters
        let plan = run.state.plan(step: 0)
        _ = try run.state.apply(plan: plan, result: try executor.execute(plan: plan, state: run.state))
        // The float32 weights moved; the rounded copy is made again from them.
        #expect(run.state.computeParameters.map(\.bitPattern) == BFloat16.rounded(run.state.parameters).map(\.bitPattern))
        #expect(run.state.computeParameters != before)
    }
}
