// Edge cases of the depthwise kernels' own machinery: rows copied 16 floats at a time with
// masked tails (one pixel, one row, rows of 15, 16, 17, 31, 32, 33 and 40 floats), the
// forward pass's two-buffer pipeline over the planes, the stride-1 dx gathered from a
// zero-bordered copy of dy (p from (k − 1) / 2 to k − 1) against the one gathered by phase
// (other paddings, strides 2 and 3), an even kernel, and the 3 × 3 stride-1 planes whose padded rows
// are exactly 16 floats (14 wide with p = 1, 12 wide with p = 2), whose AVX-512 path shares each
// row's loads between the kernel rows. Each shape must give the same bits on every
// instruction path, the same bits whether the batch comes in one call, in calls of 1 and 3
// or one sample at a time (dweight and dbias accumulate in sample order), and the values of
// the definition computed in Double.

import CKernels
import Foundation
@testable import LoomKernels
import LoomTestSupport
import Testing

extension KernelPathTests {
    /// (channels, height, width, kernel, stride, padding).
    static let depthwiseEdgeShapes: [(Int, Int, Int, Int, Int, Int)] = [
        (2, 1, 1, 1, 1, 0), (2, 1, 17, 3, 1, 1), (3, 5, 15, 3, 1, 1), (3, 4, 16, 5, 1, 2), (2, 3, 33, 3, 1, 2),
        (2, 6, 9, 5, 1, 1), (2, 7, 7, 3, 1, 0), (2, 5, 6, 3, 1, 3), (3, 7, 31, 3, 2, 1), (2, 6, 40, 3, 2, 1),
        (2, 9, 32, 5, 2, 2), (2, 5, 1, 1, 2, 0), (2, 6, 6, 4, 2, 1), (2, 10, 11, 3, 3, 1),
        (3, 14, 14, 3, 1, 1), (2, 5, 12, 3, 1, 2), (2, 1, 14, 3, 1, 1),
    ]

    /// y, dx, dweight and dbias of `batch` samples computed in consecutive calls of `chunks`
    /// samples each (dweight starts at 0.5 and dbias at 0.25, and both accumulate).
    static func depthwiseInChunks(_ s: DepthwiseShape, _ chunks: [Int], x: [Float], dy: [Float], weight: [Float],
                                  bias: [Float]) -> [Float] {
        let (inPlane, outPlane) = (s.channels * s.height * s.width, s.channels * s.outHeight * s.outWidth)
        let batch = chunks.reduce(0, +)
        var y = [Float](repeating: 7, count: batch * outPlane), dx = [Float](repeating: 7, count: batch * inPlane)
        var dweight = [Float](repeating: 0.5, count: weight.count), dbias = [Float](repeating: 0.25, count: bias.count)
        var first = 0
        for n in chunks {
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dyp in
                y.withUnsafeMutableBufferPointer { yp in dx.withUnsafeMutableBufferPointer { dxp in
                    depthwiseForward(y: yp.baseAddress! + first * outPlane, x: xp.baseAddress! + first * inPlane,
                                     weight: weight, bias: bias, batch: n, shape: s)
                    depthwiseBackward(dx: dxp.baseAddress! + first * inPlane, dweight: &dweight, dbias: &dbias,
                                      dy: dyp.baseAddress! + first * outPlane, x: xp.baseAddress! + first * inPlane,
                                      weight: weight, batch: n, shape: s)
                } }
            } }
            first += n
        }
        return y + dx + dweight + dbias
    }

    @Test(arguments: depthwiseEdgeShapes)
    func depthwiseEdgeCasesAgreeAcrossPathsAndBatchSplits(_ g: (Int, Int, Int, Int, Int, Int)) {
        let s = DepthwiseShape(channels: g.0, height: g.1, width: g.2, kernel: g.3, stride: g.4, padding: g.5)
        let n = 4, (c, h, w, k) = (s.channels, s.height, s.width, s.kernel)
        let (oh, ow) = (s.outHeight, s.outWidth)
        let x = testValues(n * c * h * w, key: 710), weight = testValues(c * k * k, key: 711)
        let bias = testValues(c, key: 712), dy = testValues(n * c * oh * ow, key: 713)
        let results = Self.onEveryPath {
            let whole = Self.depthwiseInChunks(s, [4], x: x, dy: dy, weight: weight, bias: bias).map(\.bitPattern)
            for chunks in [[1, 3], [1, 1, 1, 1], [3, 1]] {
                let split = Self.depthwiseInChunks(s, chunks, x: x, dy: dy, weight: weight, bias: bias).map(\.bitPattern)
                #expect(split == whole, "depthwise \(g) in calls of \(chunks) differs from one call of 4")
            }
            // dx not wanted: the same weight and bias gradients.
            var dweight = [Float](repeating: 0.5, count: weight.count), dbias = [Float](repeating: 0.25, count: c)
            depthwiseBackward(dx: nil, dweight: &dweight, dbias: &dbias, dy: dy, x: x, weight: weight, batch: n, shape: s)
            let tail = Array(whole[(whole.count - weight.count - c)...])
            #expect((dweight + dbias).map(\.bitPattern) == tail, "depthwise \(g) without dx")
            return whole
        }
        Self.expectOneAnswer(results, "depthwise \(g)", x.count)
        Self.expectDepthwiseDefinition(results[.sse2]!.map { Float(bitPattern: $0) }, s, batch: n, x: x, weight: weight,
                                       bias: bias, dy: dy)
    }
}
