import Foundation
import LoomKernels
import LoomTraining
import Testing

/// `RangedPieces.sum(_:into:)` makes each node's sum in place (held pieces read where they
/// lie, scratch only for a right subtree not held whole): the bits must be those of the
/// tree's sum made with copies, in float32 and with bf16 rounding after every addition.
struct RangedPiecesInPlaceTests {
    static func leaf(_ s: Int, _ n: Int) -> [Float] {
        let scale = Float(1 << (s % 5)), offset = 1e-3 * Float(s)
        return (0..<n).map { i -> Float in
            let x = Double(s * 131 + i) * 0.377
            return Float(sin(x)) * scale + offset
        }
    }

    /// A node's sum along the tree, each addition a fresh array, rounded when `bf16`.
    static func reference(_ b: ShardBlock, _ n: Int, bf16: Bool) -> [Float] {
        ReductionTree.reduce(b, value: { $0.count == 1 ? leaf($0.start, n) : nil },
                             combine: { l, r in
                                 for i in l.indices { l[i] += r[i] }
                                 if bf16 { BFloat16.round(&l) }
                             })!
    }

    @Test(arguments: [false, true])
    func inPlaceSumsGiveTheBitsOfTheTree(bf16: Bool) {
        let n = 37, leaves = 9
        var pieces = RangedPieces(leaves: leaves, length: n, bf16: bf16)
        // The tree of 9 leaves: [0, 8) + [8, 9), [0, 8) = [0, 4) + [4, 8). Leaves 0-3 and 8 one
        // by one; [4, 8) as one block for 0..<20 and as its leaves for 20..<37: a right subtree
        // held whole (added where it lies) in one range, made in scratch in the other.
        for s in [0, 1, 2, 3, 8] {
            let taken = pieces.take(ShardBlock(start: s, count: 1), range: 0..<n, values: Self.leaf(s, n))
            #expect(taken)
        }
        let right = Self.reference(ShardBlock(start: 4, count: 4), n, bf16: bf16)
        let block = pieces.take(ShardBlock(start: 4, count: 4), range: 0..<20, values: right[0..<20])
        #expect(block)
        for s in 4..<8 {
            let taken = pieces.take(ShardBlock(start: s, count: 1), range: 20..<n, values: Self.leaf(s, n)[20..<n])
            #expect(taken)
        }
        #expect(pieces.ready.ranges == [0..<n])
        let whole = Self.reference(ShardBlock(start: 0, count: leaves), n, bf16: bf16)
        var summed = [Float](repeating: .nan, count: n)
        for r in pieces.ready.pieces(cutAt: pieces.boundaries) {
            let ok = summed.withUnsafeMutableBufferPointer { pieces.sum(r, into: UnsafeMutableBufferPointer(rebasing: $0[r])) }
            #expect(ok)
            #expect(pieces.sum(r)!.map(\.bitPattern) == Array(summed[r]).map(\.bitPattern))
        }
        #expect(summed.map(\.bitPattern) == whole.map(\.bitPattern))
        // Uncut, as a server asks: the sum cuts where parts begin and end itself.
        var uncut = [Float](repeating: .nan, count: n)
        #expect(uncut.withUnsafeMutableBufferPointer { pieces.sum(0..<n, into: $0) })
        #expect(uncut.map(\.bitPattern) == whole.map(\.bitPattern))
    }

    @Test func aRangeNotCoveredIsRefused() {
        var pieces = RangedPieces(leaves: 3, length: 8)
        let first = pieces.take(ShardBlock(start: 0, count: 1), range: 0..<8, values: Self.leaf(0, 8))
        let third = pieces.take(ShardBlock(start: 2, count: 1), range: 0..<8, values: Self.leaf(2, 8))
        #expect(first && third)
        var out = [Float](repeating: 0, count: 4)
        #expect(!out.withUnsafeMutableBufferPointer { pieces.sum(0..<4, into: $0) })
        #expect(pieces.sum(0..<4) == nil)
    }
}
