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
// is cut at every boundary of every held part; each resulting piece lies wholly inside or
// wholly outside each node's held set, so the recursion "take the node's value if held,
// else left + right" is well defined on it.

import LoomKernels

public struct RangedPieces {
    /// The step's micro-shards: the tree's leaves.
    public let leaves: Int
    /// Elements per piece (the server's slice).
    public let length: Int
    /// `cluster.wire: bf16`: every sum of two rounded to bf16, as `ShardResult.combine`.
    public let bf16: Bool
    private var values: [ShardBlock: [Float]] = [:]
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

    /// Takes `values` as elements `range` (within 0 ..< length) of piece `block`. Elements
    /// already held are kept (a piece computed twice gives the same bits). False when the
    /// block is no node of this step's tree, or the range does not fit.
    @discardableResult
    public mutating func take(_ block: ShardBlock, range: Range<Int>, values part: ArraySlice<Float>) -> Bool {
        guard ReductionTree.isNode(block, leafCount: leaves), range.lowerBound >= 0, range.upperBound <= length,
              part.count == range.count else { return false }
        // Out of the dictionary while written: no copy of the whole piece per part.
        // A new piece is not zeroed: only its held elements are ever read (`sum`).
        var buffer = values.removeValue(forKey: block) ?? [Float](unsafeUninitializedCapacity: length) { _, n in n = length }
        let had = held[block] ?? ElementRanges()
        for r in ElementRanges(range).subtracting(had).ranges {
            let from = part.startIndex + (r.lowerBound - range.lowerBound)
            buffer.replaceSubrange(r, with: part[from..<(from + r.count)])
        }
        values[block] = buffer
        held[block] = had.union(ElementRanges(range))
        return true
    }

    /// `take` of a whole array: a piece not held yet that `part` covers entirely (a
    /// worker's push of a range spanning this whole slice) is kept as it is, not copied.
    @discardableResult
    public mutating func take(_ block: ShardBlock, range: Range<Int>, values part: [Float]) -> Bool {
        if range == 0..<length, part.count == length, held[block] == nil, ReductionTree.isNode(block, leafCount: leaves) {
            values[block] = part
            held[block] = ElementRanges(range)
            return true
        }
        return take(block, range: range, values: part[...])
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

    /// Every boundary of every held part: `ElementRanges.pieces(cutAt:)` of a ready set
    /// cut at these gives ranges that `sum` can take.
    public var boundaries: [Int] { held.values.flatMap(\.boundaries) }

    /// The step's sum of `range`, which must lie inside `ready` and inside or outside each
    /// held part (a piece of `ready.pieces(cutAt: boundaries)`); nil otherwise. Summed along
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
    /// place, a held piece read where it lies, so a range costs one copy (the leftmost
    /// piece's) and one addition per other piece, not a copy of every piece. False (and
    /// `out` unspecified) when the held pieces do not cover `range`.
    public func sum(_ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>) -> Bool {
        precondition(out.count == range.count, "sum of \(range) into \(out.count) elements")
        let n = range.count
        /// The held values of `node` over `range`, read in place by `body`; nil if not held.
        func withHeld(_ node: ShardBlock, _ body: (UnsafePointer<Float>) -> Void) -> Bool {
            guard let own = held[node], own.contains(range), let v = values[node] else { return false }
            v.withUnsafeBufferPointer { body($0.baseAddress! + range.lowerBound) }
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
        guard n > 0 else { return covered(ShardBlock(start: 0, count: leaves)).contains(range) }
        return write(ShardBlock(start: 0, count: leaves), into: out.baseAddress!)
    }
}
