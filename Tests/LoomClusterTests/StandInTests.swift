// The compute stand-in of `loom worker --stand-in-ms`: a result of the model's size whose
// block sums are exact, so that any reduction order gives the closed-form bits.

import LoomCluster
import LoomConfig
import LoomTraining
import Testing

@Suite struct StandInTests {
    @Test func aBlockIsTheExactSumOfItsMicroShardsInAnyOrder() {
        let p = 1000, step = 5, buffers: [Float] = [0.25, 1.5, 0, 2]
        func leaf(_ s: Int) -> ShardResult {
            StandIn.result(step: step, block: ShardBlock(start: s, count: 1), parameterCount: p, buffers: buffers,
                           heads: 2, microBatch: 32)
        }
        let block = ShardBlock(start: 8, count: 8)
        let whole = StandIn.result(step: step, block: block, parameterCount: p, buffers: buffers, heads: 2, microBatch: 32)
        let tree = ReductionTree.reduce(block, value: { $0.count == 1 ? leaf($0.start) : nil }, combine: { $0.add($1) })!
        var backwards = leaf(15)
        for s in (8..<15).reversed() { backwards.add(leaf(s)) }
        #expect(whole.gradients.count == p && whole.shardCount == 8)
        #expect(whole.gradients.map(\.bitPattern) == tree.gradients.map(\.bitPattern))
        #expect(whole.gradients.map(\.bitPattern) == backwards.gradients.map(\.bitPattern))
        for i in [0, 1, 16, 17, 999] {
            let expected = (8..<16).reduce(0) { $0 + (7 * step + 3 * $1 + i) % 17 - 8 }
            #expect(whole.gradients[i] == Float(expected) / 4096, "element \(i)")
        }
        #expect(whole.gradients.contains { $0 != 0 }, "a gradient the optimizer moves the weights with")
        #expect(whole.batchStatistics == buffers.map { $0 * 8 }, "running statistics stay where they are")
        #expect(whole.headSums.count == 2 * HeadSums.width)
    }

    /// Every element is its closed form, whatever the size (the array is filled by doubling
    /// copies of the first 17), and with bf16 it is the rounding of the fp32 result (the
    /// stand-in's sums are small multiples of 2⁻¹², which bf16 holds exactly).
    @Test(arguments: [0, 1, 16, 17, 18, 100, 4099])
    func everyElementIsItsClosedFormAndBF16IsItsRounding(p: Int) {
        let block = ShardBlock(start: 100, count: 30)
        let fp32 = StandIn.result(step: 3, block: block, parameterCount: p, buffers: [], heads: 1, microBatch: 1)
        #expect(fp32.gradients.count == p)
        for i in 0..<p { #expect(fp32.gradients[i] == StandIn.gradient(step: 3, block: block, element: i), "element \(i) of \(p)") }
        var rounded = fp32
        rounded.roundGradients(for: .bf16)
        let bf16 = StandIn.result(step: 3, block: block, parameterCount: p, buffers: [], heads: 1, microBatch: 1, wire: .bf16)
        #expect(bf16.gradients.map(\.bitPattern) == rounded.gradients.map(\.bitPattern))
    }
}
