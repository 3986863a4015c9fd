// ShardComputer.recycle: a result's gradient buffer handed back is zeroed and computed into
// again. Reuse must never show in a result: the next result has the bits of a fresh
// computer's, and a result the caller still holds is not overwritten.

import Foundation
import LoomData
import LoomTestSupport
import LoomTraining
import Testing

@Suite(.serialized) struct GradientRecyclingTests {
    @Test func aRecycledBufferGivesTheBitsOfAFreshOneAndLeavesHeldResultsAlone() throws {
        let dir = try TestPaths.temporaryDirectory("loom-recycle")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        let run = try TrainingRunTests().makeRun(dir, ["training.batch_size=64"])
        let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
        let plan = run.state.plan(step: 0)
        // Two blocks of different samples, so that a stale buffer would show.
        let first = plan.work(ShardBlock(start: 0, count: plan.shardCount / 2), seed: run.problem.config.training.seed)
        let second = plan.work(ShardBlock(start: plan.shardCount / 2, count: plan.shardCount / 2),
                               seed: run.problem.config.training.seed)
        let firstData = try executor.load(split: "train", indices: first.sampleIDs)
        let secondData = try executor.load(split: "train", indices: second.sampleIDs)
        let (p, b) = (run.state.parameters, run.state.buffers)
        let expected = try ShardComputer(problem: run.problem, microBatch: plan.microBatch)
            .compute(second, data: secondData, parameters: p, buffers: b)

        let computer = ShardComputer(problem: run.problem, microBatch: plan.microBatch)
        let a = try computer.compute(first, data: firstData, parameters: p, buffers: b)
        let held = a.gradients
        computer.recycle(a)
        // `held` still references the buffer: computing into it must copy it first.
        let r = try computer.compute(second, data: secondData, parameters: p, buffers: b)
        #expect(r.gradients.map(\.bitPattern) == expected.gradients.map(\.bitPattern))
        #expect(held.map(\.bitPattern) == a.gradients.map(\.bitPattern))
        #expect(held.map(\.bitPattern) != r.gradients.map(\.bitPattern))
        // Recycled with nothing else holding it, then reused: still a fresh computer's bits.
        computer.recycle(r)
        let again = try computer.compute(second, data: secondData, parameters: p, buffers: b)
        #expect(again.gradients.map(\.bitPattern) == expected.gradients.map(\.bitPattern))
        #expect(again.batchStatistics.map(\.bitPattern) == expected.batchStatistics.map(\.bitPattern))
        #expect(again.headSums == expected.headSums && again.shardCount == expected.shardCount)
    }
}
