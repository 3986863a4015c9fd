// The depthwise convolution's two kernels, each called directly: the lane kernel (16 channels
// in the 16 lanes, for the planes the polyphase grid fills badly) and the polyphase kernel.
// y and dx must be the same bits from both; the lane kernel's weight gradient must be the
// documented order of summation (row sums in column order, added in row order, per sample
// added in sample order), computed here in plain Float; each kernel must give the same bits
// on every instruction path and however the batch is split into calls; and the values must
// be those of the definition computed in Double. Shapes: channel counts on both sides of 16
// (lanes past the last channel), planes under 16 pixels (masked transpositions), strides 1 to
// 3, kernels 1 to 7, padding 0 to past k − 1.

import CKernels
import Foundation
@testable import LoomKernels
import LoomTestSupport
import Testing

extension KernelPathTests {
    /// (channels, height, width, kernel, stride, padding).
    static let depthwiseLaneShapes: [(Int, Int, Int, Int, Int, Int)] = [
        (1, 1, 1, 1, 1, 0), (17, 7, 7, 3, 1, 1), (16, 7, 7, 5, 1, 2), (33, 4, 4, 3, 1, 1), (40, 3, 3, 3, 2, 1),
        (24, 2, 5, 1, 3, 0), (18, 15, 15, 5, 2, 2), (20, 13, 11, 3, 3, 2), (16, 8, 8, 4, 2, 2), (3, 9, 9, 7, 1, 3),
        (5, 5, 5, 5, 1, 5), (2, 6, 9, 5, 1, 1), (3, 5, 15, 3, 1, 1), (2, 17, 33, 3, 2, 1),
    ]

    enum DepthwiseKernel: CaseIterable { case lanes, polyphase }

    /// y, dx, dweight and dbias of `batch` samples through one kernel, in consecutive calls of
    /// `chunks` samples (dweight starts at 0.5 and dbias at 0.25, and both accumulate).
    static func depthwise(_ kernel: DepthwiseKernel, _ s: DepthwiseShape, _ chunks: [Int], x: [Float], dy: [Float],
                          weight: [Float], bias: [Float], wantDx: Bool = true) -> (y: [Float], dx: [Float], dweight: [Float], dbias: [Float]) {
        let (inPlane, outPlane) = (s.channels * s.height * s.width, s.channels * s.outHeight * s.outWidth)
        let batch = chunks.reduce(0, +)
        var y = [Float](repeating: 7, count: batch * outPlane), dx = [Float](repeating: 7, count: batch * inPlane)
        var dweight = [Float](repeating: 0.5, count: weight.count), dbias = [Float](repeating: 0.25, count: bias.count)
        var shape = s.cShape
        var first = 0
        for n in chunks {
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dyp in
                y.withUnsafeMutableBufferPointer { yp in dx.withUnsafeMutableBufferPointer { dxp in
                    let (xs, dys) = (xp.baseAddress! + first * inPlane, dyp.baseAddress! + first * outPlane)
                    let (ys, dxs) = (yp.baseAddress! + first * outPlane, wantDx ? dxp.baseAddress! + first * inPlane : nil)
                    let done: Int32
                    switch kernel {
                    case .lanes:
                        done = loom_depthwise_lanes_forward(ys, xs, weight, bias, n, &shape) &
                            loom_depthwise_lanes_backward(dxs, &dweight, &dbias, dys, xs, weight, n, &shape)
                    case .polyphase:
                        done = loom_depthwise_polyphase_forward(ys, xs, weight, bias, n, &shape) &
                            loom_depthwise_polyphase_backward(dxs, &dweight, &dbias, dys, xs, weight, n, &shape)
                    }
                    #expect(done == 1)
                } }
            } }
            first += n
        }
        return (y, dx, dweight, dbias)
    }

    /// The lane kernel's weight gradient as documented, in Float: per sample, channel and tap,
    /// the sum over output rows (from 0, in row order) of each row's sum over its columns (from
    /// 0, in column order) of dy·x, padding read as 0; the sample sums added to dweight (from
    /// 0.5) in sample order.
    static func laneWeightGradient(_ s: DepthwiseShape, batch: Int, x: [Float], dy: [Float]) -> [Float] {
        let (c, h, w, k) = (s.channels, s.height, s.width, s.kernel)
        let (oh, ow) = (s.outHeight, s.outWidth)
        var dweight = [Float](repeating: 0.5, count: c * k * k)
        for n in 0..<batch {
            for ch in 0..<c {
                for t in 0..<(k * k) {
                    var total: Float = 0
                    for oy in 0..<oh {
                        var row: Float = 0
                        for ox in 0..<ow {
                            let (iy, ix) = (oy * s.stride - s.padding + t / k, ox * s.stride - s.padding + t % k)
                            let input: Float = iy >= 0 && iy < h && ix >= 0 && ix < w ? x[((n * c + ch) * h + iy) * w + ix] : 0
                            let product = dy[((n * c + ch) * oh + oy) * ow + ox] * input
                            row += product
                        }
                        total += row
                    }
                    dweight[ch * k * k + t] += total
                }
            }
        }
        return dweight
    }

    @Test(arguments: depthwiseLaneShapes)
    func theLaneKernelMatchesThePolyphaseKernelAndItsDocumentedOrder(_ g: (Int, Int, Int, Int, Int, Int)) {
        let s = DepthwiseShape(channels: g.0, height: g.1, width: g.2, kernel: g.3, stride: g.4, padding: g.5)
        let n = 3, (c, h, w, k) = (s.channels, s.height, s.width, s.kernel)
        let x = testValues(n * c * h * w, key: 720), weight = testValues(c * k * k, key: 721)
        let bias = testValues(c, key: 722), dy = testValues(n * c * s.outHeight * s.outWidth, key: 723)
        let order = Self.laneWeightGradient(s, batch: n, x: x, dy: dy).map(\.bitPattern)
        var answers: [DepthwiseKernel: [KernelPath: [UInt32]]] = [:]
        for kernel in DepthwiseKernel.allCases {
            answers[kernel] = Self.onEveryPath {
                let whole = Self.depthwise(kernel, s, [3], x: x, dy: dy, weight: weight, bias: bias)
                for chunks in [[1, 2], [1, 1, 1]] {
                    let split = Self.depthwise(kernel, s, chunks, x: x, dy: dy, weight: weight, bias: bias)
                    #expect((split.y + split.dx + split.dweight + split.dbias).map(\.bitPattern) ==
                        (whole.y + whole.dx + whole.dweight + whole.dbias).map(\.bitPattern),
                        "\(kernel) \(g) in calls of \(chunks) differs from one call of 3")
                }
                let noDx = Self.depthwise(kernel, s, [3], x: x, dy: dy, weight: weight, bias: bias, wantDx: false)
                #expect((noDx.dweight + noDx.dbias).map(\.bitPattern) == (whole.dweight + whole.dbias).map(\.bitPattern),
                        "\(kernel) \(g): the gradients of the weights depend on whether dx is wanted")
                if kernel == .lanes { #expect(whole.dweight.map(\.bitPattern) == order, "lanes \(g): dweight's order") }
                return (whole.y + whole.dx + whole.dweight + whole.dbias).map(\.bitPattern)
            }
            Self.expectOneAnswer(answers[kernel]!, "depthwise \(kernel) \(g)", x.count)
            Self.expectDepthwiseDefinition(answers[kernel]![.sse2]!.map { Float(bitPattern: $0) }, s, batch: n, x: x,
                                           weight: weight, bias: bias, dy: dy)
        }
        // y, dx and dbias: the same bits from both kernels (dweight's order differs).
        let (lanes, polyphase) = (answers[.lanes]![.sse2]!, answers[.polyphase]![.sse2]!)
        let yAndDx = n * c * (s.outHeight * s.outWidth + h * w)
        #expect(Array(lanes[..<yAndDx]) == Array(polyphase[..<yAndDx]), "\(g): y or dx differs between the kernels")
        #expect(Array(lanes.suffix(c)) == Array(polyphase.suffix(c)), "\(g): dbias differs between the kernels")
    }

    @Test func theEntryPointsChooseTheLaneKernelWhereThePolyphaseGridWastesAQuarter() {
        // 7 × 7 planes (a grid of 64 or 80 lanes for 49 outputs) and the 5 × 5 stride-2 14 × 14
        // go to the lane kernel; 28 × 28 and the stride-1 14 × 14 (224 lanes for 196) do not.
        let shapes: [(DepthwiseShape, DepthwiseKernel)] = [
            (DepthwiseShape(channels: 20, height: 7, width: 7, kernel: 5, stride: 1, padding: 2), .lanes),
            (DepthwiseShape(channels: 20, height: 7, width: 7, kernel: 3, stride: 1, padding: 1), .lanes),
            (DepthwiseShape(channels: 20, height: 14, width: 14, kernel: 5, stride: 2, padding: 2), .lanes),
            (DepthwiseShape(channels: 20, height: 14, width: 14, kernel: 3, stride: 1, padding: 1), .polyphase),
            (DepthwiseShape(channels: 20, height: 28, width: 28, kernel: 3, stride: 2, padding: 1), .polyphase),
        ]
        for (s, expected) in shapes {
            let n = 2, (c, h, w, k) = (s.channels, s.height, s.width, s.kernel)
            let x = testValues(n * c * h * w, key: 730), weight = testValues(c * k * k, key: 731)
            let bias = testValues(c, key: 732), dy = testValues(n * c * s.outHeight * s.outWidth, key: 733)
            var y = [Float](repeating: 0, count: dy.count), dx = [Float](repeating: 0, count: x.count)
            var dweight = [Float](repeating: 0.5, count: weight.count), dbias = [Float](repeating: 0.25, count: c)
            depthwiseForward(y: &y, x: x, weight: weight, bias: bias, batch: n, shape: s)
            depthwiseBackward(dx: &dx, dweight: &dweight, dbias: &dbias, dy: dy, x: x, weight: weight, batch: n, shape: s)
            let direct = Self.depthwise(expected, s, [n], x: x, dy: dy, weight: weight, bias: bias)
            #expect((y + dx + dweight + dbias).map(\.bitPattern) ==
                (direct.y + direct.dx + direct.dweight + direct.dbias).map(\.bitPattern), "\(s) should run \(expected)")
        }
    }
}
