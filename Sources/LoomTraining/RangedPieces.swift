// A step's gradient pieces as a shard server receives them with overlap: range by range,
// each piece (a node of the reduction tree, one worker's block) arriving in parts as the
// worker's backward pass completes them (docs/CLUSTER.md, "Overlap").
//
// The sum of an element over the step is the reduction tree's sum over micro-shards, left
// operand first, and it does not depend on which pieces supplied it: a node's value is the
// same bits whether its worker computed it as one block or two workers computed its halves
// (ARCHITECTURE.md, invariant 1). So an element can be summed as soon as some set of held
// pieces covers the tree's leaves for it:
//
//   covered(node) = held(node) ∪ (covered(left) ∩ covered(right))
//
// and the step's sum of a range is ready once covered(root) contains it. To sum, the range
// is cut at every boundary of every part taken; each resulting piece lies wholly inside or
// wholly outside each part, so the recursion "take the node's value from a part that holds
// it, else left + right" is well defined on it. Parts are kept as they came (a received
// part stays in its frame), never copied into one buffer per piece.

import LoomKernels

public struct RangedPieces {
    /// The step's micro-shards: the tree's leaves.
    public let leaves: Int
    /// Elements per piece (the server's slice).
    public let length: Int
    /// `cluster.wire: bf16`: every sum of two rounded to bf16, as `ShardResult.combine`.
    public let bf16: Bool
    /// Each piece's parts as they came (offsets in the slice), not copied into one buffer:
    /// a part received is read where its message's frame holds it (`FloatValues`).
    private var parts: [ShardBlock: [(range: Range<Int>, values: FloatValues)]] = [:]
    private var held: [ShardBlock: ElementRanges] = [:]

    public init(leaves: Int, length: Int, bf16: Bool = false) {
        precondition(leaves >= 1 && length >= 0, "RangedPieces(\(leaves), \(length))")
        self.leaves = leaves
        self.length = length
        self.bf16 = bf16
    }

    /// Whether no part of any piece is held.
    public var isEmpty: Bool { held.isEmpty }

    /// The elements of `block` held so far.
    public func held(_ block: ShardBlock) -> ElementRanges { held[block] ?? ElementRanges() }

    /// Takes `values` as elements `range` (within 0 ..< length) of piece `block`, keeping
    /// them as they are. Where a part meets elements already held, those stay what they were
    /// (a piece computed twice gives the same bits), and a part wholly held is dropped.
    /// False when the block is no node of this step's tree, or the range does not fit.
    @discardableResult
    public mutating func take(_ block: ShardBlock, range: Range<Int>, values part: FloatValues) -> Bool {
        guard ReductionTree.isNode(block, leafCount: leaves), range.lowerBound >= 0, range.upperBound <= length,
              part.count == range.count else { return false }
        let had = held[block] ?? ElementRanges()
        if range.isEmpty || had.contains(range) { return true }
        parts[block, default: []].append((range, part))
        held[block] = had.union(ElementRanges(range))
        return true
    }

    /// `take` of an array.
    @discardableResult
    public mutating func take(_ block: ShardBlock, range: Range<Int>, values part: [Float]) -> Bool {
        take(block, range: range, values: FloatValues(part))
    }

    /// `take` of part of an array.
    @discardableResult
    public mutating func take(_ block: ShardBlock, range: Range<Int>, values part: ArraySlice<Float>) -> Bool {
        take(block, range: range, values: FloatValues(Array(part)))
    }

    /// The elements whose sum over `node`'s micro-shards the held pieces give.
    public func covered(_ node: ShardBlock) -> ElementRanges {
        let own = held[node] ?? ElementRanges()
        guard node.count >= 2 else { return own }
        let mid = node.start + ReductionTree.splitPoint(node.count)
        let children = covered(ShardBlock(start: node.start, count: mid - node.start))
            .intersection(covered(ShardBlock(start: mid, count: node.end - mid)))
        return own.union(children)
    }

    /// The elements whose step sum is ready: covered at the root.
    public var ready: ElementRanges { covered(ShardBlock(start: 0, count: leaves)) }

    /// Every boundary of every part taken (`sum` cuts its range at these).
    public var boundaries: [Int] { parts.values.flatMap { $0.flatMap { [$0.range.lowerBound, $0.range.upperBound] } } }

    /// The step's sum of `range`, which must lie inside `ready`; nil otherwise. Summed along
    /// the tree, left operand first, as `ShardResult.combine` sums whole gradients.
    public func sum(_ range: Range<Int>) -> [Float]? {
        var covered = false
        let out = [Float](unsafeUninitializedCapacity: range.count) { buffer, n in
            covered = sum(range, into: buffer)
            n = covered ? range.count : 0
        }
        return covered ? out : nil
    }

    /// `sum(range)` written into `out` (`range.count` elements): each node's sum is made in
    /// place, a held part read where it lies, so each element costs one copy (the leftmost
    /// piece's) and one addition per other piece, not a copy of every piece. False (and
    /// `out` unspecified) when the held pieces do not cover `range`.
    public func sum(_ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>) -> Bool {
        precondition(out.count == range.count, "sum of \(range) into \(out.count) elements")
        guard !range.isEmpty else { return covered(ShardBlock(start: 0, count: leaves)).contains(range) }
        // Cut where a part begins or ends, so that each piece lies inside or outside each part.
        let cuts = Set(boundaries.filter { $0 > range.lowerBound && $0 < range.upperBound }).sorted()
        var lower = range.lowerBound
        for upper in cuts + [range.upperBound] {
            let piece = lower..<upper
            guard sum(within: piece, into: out.baseAddress! + (lower - range.lowerBound)) else { return false }
            lower = upper
        }
        return true
    }

    /// `sum(range, into:)` of a non-empty range inside or outside each part taken.
    private func sum(within range: Range<Int>, into out: UnsafeMutablePointer<Float>) -> Bool {
        let n = range.count
        /// The held values of `node` over `range`, read in place by `body` from the first part
        /// that holds all of `range`; false if none does.
        func withHeld(_ node: ShardBlock, _ body: (UnsafePointer<Float>) -> Void) -> Bool {
            guard let part = parts[node]?.first(where: { $0.range.lowerBound <= range.lowerBound && range.upperBound <= $0.range.upperBound })
            else { return false }
            part.values.withUnsafeBufferPointer { body($0.baseAddress! + (range.lowerBound - part.range.lowerBound)) }
            return true
        }
        /// Writes `node`'s sum over `range` to `dest`: the left child's sum, plus the right
        /// child's (read in place when held, else made in a scratch buffer), rounded to bf16
        /// after each addition in a bf16 run.
        func write(_ node: ShardBlock, into dest: UnsafeMutablePointer<Float>) -> Bool {
            if withHeld(node, { dest.update(from: $0, count: n) }) { return true }
            guard node.count >= 2 else { return false }
            let mid = node.start + ReductionTree.splitPoint(node.count)
            let left = ShardBlock(start: node.start, count: mid - node.start), right = ShardBlock(start: mid, count: node.end - mid)
            guard write(left, into: dest) else { return false }
            if !withHeld(right, { _ = elementwiseSum(dest, $0, into: dest, count: n) }) {
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: n)
                defer { scratch.deallocate() }
                guard write(right, into: scratch) else { return false }
                _ = elementwiseSum(dest, scratch, into: dest, count: n)
            }
            if bf16 { BFloat16.round(UnsafeMutableBufferPointer(start: dest, count: n)) }
            return true
        }
        return write(ShardBlock(start: 0, count: leaves), into: out)
    }
}
