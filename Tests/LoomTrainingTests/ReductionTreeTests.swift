import LoomTraining
import Testing

@Suite struct ReductionTreeTests {
    @Test func splitsAtTheLargestPowerOfTwoBelowTheCount() {
        #expect(ReductionTree.splitPoint(2) == 1)
        #expect(ReductionTree.splitPoint(4) == 2)
        #expect(ReductionTree.splitPoint(5) == 4)
        #expect(ReductionTree.splitPoint(6) == 4)
        #expect(ReductionTree.splitPoint(8) == 4)
    }

    @Test func blocksForOwnersAreTreeNodesCoveringEveryLeafOnce() {
        for leaves in 1...16 {
            for parts in 1...9 {
                let blocks = ReductionTree.blocks(leafCount: leaves, parts: parts)
                #expect(blocks.first?.start == 0)
                #expect(blocks.last?.end == leaves)
                for (a, b) in zip(blocks, blocks.dropFirst()) { #expect(a.end == b.start) }
                for block in blocks { #expect(ReductionTree.isNode(block, leafCount: leaves), "\(block) of \(leaves)") }
                #expect(blocks.count <= max(parts, 1) || blocks.count == leaves)
            }
        }
    }

    @Test func weightedBlocksAreTreeNodesSizedByWeight() {
        // A 2-slot worker beside two of 1 slot, 8 micro-shards: half for it, a quarter each.
        #expect(ReductionTree.blocks(leafCount: 8, weights: [1, 2, 1]).map(\.count) == [4, 2, 2])
        #expect(ReductionTree.blocks(leafCount: 4, weights: [2, 1]).map(\.count) == [2, 2])
        #expect(ReductionTree.blocks(leafCount: 16, weights: [4, 2, 1, 1]).map(\.count) == [8, 4, 2, 2])
        // Equal weights cut as the unweighted owners do.
        #expect(ReductionTree.blocks(leafCount: 6, weights: [3, 3, 3]) == ReductionTree.blocks(leafCount: 6, parts: 3))
        for leaves in 1...16 {
            for weights in [[2, 1], [1, 4], [3, 1, 1], [2, 2, 1, 1], [8, 1], [1, 1, 1, 2, 1]] {
                let blocks = ReductionTree.blocks(leafCount: leaves, weights: weights)
                #expect(blocks.first?.start == 0 && blocks.last?.end == leaves)
                for (a, b) in zip(blocks, blocks.dropFirst()) { #expect(a.end == b.start) }
                for block in blocks { #expect(ReductionTree.isNode(block, leafCount: leaves), "\(block) of \(leaves)") }
                #expect(blocks.count <= weights.count)
            }
        }
    }

    @Test func unalignedRangesAreNotNodes() {
        #expect(!ReductionTree.isNode(ShardBlock(start: 1, count: 2), leafCount: 4))
        #expect(ReductionTree.isNode(ShardBlock(start: 2, count: 2), leafCount: 4))
        #expect(ReductionTree.isNode(ShardBlock(start: 4, count: 2), leafCount: 6))
    }

    /// The point of the tree: any pre-reduced split of the leaves gives the same bits as
    /// reducing the leaves one by one, although float addition is not associative.
    @Test func preReducedBlocksGiveTheSameBitsAsLeaves() {
        let leaves: [Float] = [1e8, 1, -1e8, 3.25, 0.1, 7e-3, 2e7, -5]
        func leafValue(_ b: ShardBlock) -> Float? { b.count == 1 ? leaves[b.start] : nil }
        let whole = ShardBlock(start: 0, count: leaves.count)
        let reference = ReductionTree.reduce(whole, value: leafValue, combine: { $0 += $1 })!
        for parts in 1...8 {
            let blocks = ReductionTree.blocks(leafCount: leaves.count, parts: parts)
            var pre: [ShardBlock: Float] = [:]
            for b in blocks { pre[b] = ReductionTree.reduce(b, value: leafValue, combine: { $0 += $1 })! }
            let total = ReductionTree.reduce(whole, value: { pre[$0] }, combine: { $0 += $1 })!
            #expect(total.bitPattern == reference.bitPattern, "parts \(parts)")
        }
        // And the plain left-to-right sum differs, so the test can tell orders apart.
        #expect(leaves.reduce(0, +).bitPattern != reference.bitPattern)
    }
}
