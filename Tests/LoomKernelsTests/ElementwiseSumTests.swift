// `elementwiseSum`, the coordinator's sum of two gradient sums (one may lie in a worker's
// shared memory): the scalar a + b at every index, in place or not, and the finite flag.

import LoomKernels
import Testing

struct ElementwiseSumTests {
    /// Values whose sums round, so that a sum computed any other way would show in the bits.
    static func operands(_ n: Int) -> ([Float], [Float]) {
        ((0..<n).map { Float($0) * 0.1 + 1e-3 }, (0..<n).map { 1 / Float($0 + 3) - 7.25 })
    }

    /// `elementwiseSum` of `a` and `b` into a new array (filled with `fill` first, so that an
    /// index left unwritten shows), and its flag.
    static func sum(_ a: [Float], _ b: [Float], fill: Float = .nan) -> (out: [Float], finite: Bool) {
        var out = [Float](repeating: fill, count: a.count)
        let finite = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { elementwiseSum(pa.baseAddress!, pb.baseAddress!, into: $0.baseAddress!, count: a.count) }
        } }
        return (out, finite)
    }

    @Test(arguments: [0, 1, 7, 8, 9, 31, 1001])
    func everyIndexIsTheScalarSum(n: Int) {
        let (a, b) = Self.operands(n)
        let expected = zip(a, b).map { ($0 + $1).bitPattern }
        let (out, finite) = Self.sum(a, b)
        #expect(finite)
        #expect(out.map(\.bitPattern) == expected)
    }

    @Test func inPlaceIntoEitherOperand() {
        let n = 37
        let (a, b) = Self.operands(n)
        let expected = zip(a, b).map { ($0 + $1).bitPattern }
        var left = a
        left.withUnsafeMutableBufferPointer { l in
            b.withUnsafeBufferPointer { _ = elementwiseSum(l.baseAddress!, $0.baseAddress!, into: l.baseAddress!, count: n) }
        }
        var right = b
        right.withUnsafeMutableBufferPointer { r in
            a.withUnsafeBufferPointer { _ = elementwiseSum($0.baseAddress!, r.baseAddress!, into: r.baseAddress!, count: n) }
        }
        #expect(left.map(\.bitPattern) == expected)
        #expect(right.map(\.bitPattern) == expected)
    }

    /// A NaN or infinite operand, or two finite ones whose sum overflows, in a full 8-lane
    /// block or in the tail: the flag is false, and the other sums are still written.
    @Test(arguments: [Float.nan, -Float.nan, .signalingNaN, .infinity, -.infinity, .greatestFiniteMagnitude])
    func aSumThatIsNotFiniteIsReported(bad: Float) {
        for (n, position) in [(8, 3), (19, 17), (19, 0), (1, 0)] {
            var (a, b) = Self.operands(n)
            a[position] = bad
            b[position] = bad == .greatestFiniteMagnitude ? bad : 1
            let (out, finite) = Self.sum(a, b, fill: 0)
            #expect(!finite, "n \(n), position \(position), value \(bad)")
            #expect(!out[position].isFinite)
            #expect(out.indices.filter { $0 != position }.allSatisfy { out[$0] == a[$0] + b[$0] })
        }
    }

    /// Sums at the edges of the finite range are finite: signed zeros, subnormals, the
    /// largest values cancelling, in full blocks and in the tail.
    @Test func finiteEdgesAreFinite() {
        let edges: [(Float, Float)] = [(-0.0, -0.0), (0, -0.0), (.greatestFiniteMagnitude, -.greatestFiniteMagnitude),
                                       (.leastNonzeroMagnitude, -.leastNonzeroMagnitude), (1e-40, 1e-40),
                                       (.greatestFiniteMagnitude, 0), (-.greatestFiniteMagnitude, -1e30), (3e38, 0)]
        let n = 8 * edges.count + 5
        let a = (0..<n).map { edges[$0 % edges.count].0 }, b = (0..<n).map { edges[$0 % edges.count].1 }
        let (out, finite) = Self.sum(a, b)
        #expect(finite)
        #expect(out.map(\.bitPattern) == zip(a, b).map { ($0 + $1).bitPattern })
    }
}
