// The fixed order in which micro-shard results are summed (ARCHITECTURE.md, invariant 1).
//
// Float addition is not associative, so "sum the gradients of the step" only has one
// answer if the order is fixed. A step's S micro-shards are the leaves 0..<S of a binary
// tree that splits every range [lo, hi) at lo + (the largest power of two < hi - lo):
//
//     S = 6:            [0,6)
//                     /       \
//                 [0,4)       [4,6)
//                 /   \       /   \
//             [0,2) [2,4)   4     5
//             /  \  /  \
//             0  1  2  3
//
// Every power-of-two block aligned to its size ([0,2), [2,4), [0,4), [4,6), ...) is a node
// of this tree, so a worker that owns such a block may pre-reduce it and send one result:
// the total is bitwise the same whoever computed which leaf.

/// A node of the reduction tree over micro-shard indices: the half-open range it covers.
public struct ShardBlock: Hashable, Sendable, CustomStringConvertible {
    public var start: Int
    public var count: Int
    public init(start: Int, count: Int) { self.start = start; self.count = count }
    public var end: Int { start + count }
    public var range: Range<Int> { start..<end }
    public var description: String { "[\(start),\(end))" }
}

public enum ReductionTree {
    /// Where the tree splits a range of `count` leaves: the largest power of two < count.
    @inlinable
    public static func splitPoint(_ count: Int) -> Int {
        precondition(count >= 2)
        var p = 1
        while p * 2 < count { p *= 2 }
        return p
    }

    /// True when `block` is a node of the tree over `leafCount` leaves.
    public static func isNode(_ block: ShardBlock, leafCount: Int) -> Bool {
        var lo = 0, hi = leafCount
        while true {
            if block.start == lo && block.end == hi { return true }
            if hi - lo < 2 { return false }
            let mid = lo + splitPoint(hi - lo)
            if block.end <= mid { hi = mid } else if block.start >= mid { lo = mid } else { return false }
        }
    }

    /// Cuts `leafCount` leaves into tree nodes for `parts` owners: aligned blocks of a
    /// power-of-two size, as large as possible while giving every owner work when there is
    /// enough. Blocks are returned in leaf order.
    public static func blocks(leafCount: Int, parts: Int) -> [ShardBlock] {
        precondition(leafCount > 0 && parts > 0)
        var result: [ShardBlock] = []
        func visit(_ lo: Int, _ hi: Int, _ budget: Int) {
            if budget <= 1 || hi - lo == 1 {
                result.append(ShardBlock(start: lo, count: hi - lo)); return
            }
            let mid = lo + splitPoint(hi - lo)
            // Share the owners between the halves in proportion to their sizes.
            let leftBudget = max(1, Int((Double(budget) * Double(mid - lo) / Double(hi - lo)).rounded()))
            visit(lo, mid, min(leftBudget, budget - 1))
            visit(mid, hi, max(1, budget - min(leftBudget, budget - 1)))
        }
        visit(0, leafCount, parts)
        return result
    }

    /// Cuts `leafCount` leaves into tree nodes for owners of different capacities
    /// (`weights`, e.g. a worker's compute slots): aligned power-of-two blocks whose sizes
    /// follow the weights as closely as the tree allows, so that an owner of weight 2 can be
    /// given one block twice as large as an owner of weight 1 (and send one result for it).
    /// Owners are placed heaviest first, from the left. Equal weights give `blocks(leafCount:
    /// parts:)`. Blocks are returned in leaf order.
    public static func blocks(leafCount: Int, weights: [Int]) -> [ShardBlock] {
        precondition(leafCount > 0 && !weights.isEmpty && weights.allSatisfy { $0 > 0 })
        if Set(weights).count == 1 { return blocks(leafCount: leafCount, parts: weights.count) }
        var result: [ShardBlock] = []
        func visit(_ lo: Int, _ hi: Int, _ owners: ArraySlice<Int>) {
            if owners.count <= 1 || hi - lo == 1 {
                result.append(ShardBlock(start: lo, count: hi - lo)); return
            }
            let mid = lo + splitPoint(hi - lo)
            // The heaviest owners go left until their weight matches the left half's share.
            let target = Double(owners.reduce(0, +)) * Double(mid - lo) / Double(hi - lo)
            var best = owners.startIndex + 1, bestGap = Double.infinity, sum = 0
            for k in owners.startIndex..<(owners.endIndex - 1) {
                sum += owners[k]
                let gap = abs(Double(sum) - target)
                if gap < bestGap { bestGap = gap; best = k + 1 }
            }
            visit(lo, mid, owners[..<best])
            visit(mid, hi, owners[best...])
        }
        visit(0, leafCount, ArraySlice(weights.sorted(by: >)))
        return result
    }

    /// Reduces values attached to tree nodes that exactly cover `range` (a node itself),
    /// combining children left + right with `combine`, bottom-up in the fixed tree order.
    /// `value(block)` must return the value of a block that was computed directly (a leaf
    /// or a pre-reduced node), or nil when the block must be split further.
    public static func reduce<T>(_ block: ShardBlock, value: (ShardBlock) -> T?,
                                 combine: (inout T, T) -> Void) -> T? {
        if let v = value(block) { return v }
        guard block.count >= 2 else { return nil }
        let mid = block.start + splitPoint(block.count)
        guard var left = reduce(ShardBlock(start: block.start, count: mid - block.start), value: value, combine: combine),
              let right = reduce(ShardBlock(start: mid, count: block.end - mid), value: value, combine: combine)
        else { return nil }
        combine(&left, right)
        return left
    }
}
