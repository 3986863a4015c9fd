// `loom worker --slots N`: one process computing a block on N threads, each calling
// single-threaded OpenBLAS at the same time, must give the bits of one thread.

import Foundation
import Logging
import LoomData
import LoomKernels
import LoomTestSupport
import LoomTraining
import Testing

@Suite(.serialized) struct SlotComputerTests {
    @Test func slotsGiveTheBitsOfOneThreadWhateverTheirCount() throws {
        let dir = try TestPaths.temporaryDirectory("loom-slots")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        let run = try TrainingRunTests().makeRun(dir, ["training.batch_size=128"])
        let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
        let plan = run.state.plan(step: 0)
        let block = ShardBlock(start: 0, count: plan.shardCount)
        let work = plan.work(block, seed: run.problem.config.training.seed)
        let data = try executor.load(split: "train", indices: work.sampleIDs)
        let one = try ShardComputer(problem: run.problem, microBatch: plan.microBatch)
            .compute(work, data: data, parameters: run.state.parameters, buffers: run.state.buffers)
        for slots in [2, 3, 8] {
            let computer = SlotComputer(problem: run.problem, microBatch: plan.microBatch, slots: slots)
            #expect(computer.subBlocks(of: block).count == min(slots, plan.shardCount))
            // Several rounds: a race inside OpenBLAS would show as a differing bit sometimes.
            for _ in 0..<3 {
                var waited = 0
                let r = try computer.compute(work, data: data, parameters: run.state.parameters,
                                             buffers: run.state.buffers, waiting: { waited += 1 })
                #expect(r.gradients.map(\.bitPattern) == one.gradients.map(\.bitPattern), "\(slots) slots")
                #expect(r.batchStatistics.map(\.bitPattern) == one.batchStatistics.map(\.bitPattern))
                #expect(r.headSums == one.headSums && r.shardCount == plan.shardCount)
            }
        }
    }
}
