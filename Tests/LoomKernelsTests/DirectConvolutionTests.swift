// The direct convolution kernel (DirectConvolution.swift, CKernels' ConvBodies.h) on the edge
// cases of its layout: strides 1 and 2, padding 0 to K − 1, odd plane sizes, channel counts
// that are not a multiple of the 4-channel register block or of the 16-float vector, a 1×1
// strided kernel, batch 1; against the definition in Double, against the scalar order it
// documents (bit for bit), on every instruction path the host runs, and split over the batch.
import LoomKernels
import LoomTestSupport
import Testing

private let edgeShapes: [Conv2DShape] = [
    Conv2DShape(inChannels: 3, outChannels: 5, height: 9, width: 11, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 5, outChannels: 7, height: 10, width: 9, kernel: 3, stride: 2, padding: 1),
    Conv2DShape(inChannels: 2, outChannels: 3, height: 7, width: 6, kernel: 5, stride: 2, padding: 2),
    Conv2DShape(inChannels: 6, outChannels: 17, height: 9, width: 9, kernel: 1, stride: 2, padding: 0),
    Conv2DShape(inChannels: 1, outChannels: 4, height: 5, width: 19, kernel: 3, stride: 1, padding: 0),
    Conv2DShape(inChannels: 18, outChannels: 9, height: 8, width: 8, kernel: 3, stride: 1, padding: 2),
    // The compact layout ("same" stride 1, k = 2p + 1, p < W; ConvKernels.c): a 2×2 plane,
    // a 4×4 plane whose 16 outputs fill the grid exactly (stored straight into y, 8 output
    // channels), the same with 5 (through the grid), 5×5 on a 3-wide plane, 7×7 on 7×7, and
    // W = p, which keeps the padded layout.
    Conv2DShape(inChannels: 3, outChannels: 5, height: 2, width: 2, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 4, outChannels: 8, height: 4, width: 4, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 4, outChannels: 5, height: 4, width: 4, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 3, outChannels: 6, height: 6, width: 3, kernel: 5, stride: 1, padding: 2),
    Conv2DShape(inChannels: 2, outChannels: 4, height: 7, width: 7, kernel: 7, stride: 1, padding: 3),
    Conv2DShape(inChannels: 2, outChannels: 4, height: 3, width: 1, kernel: 3, stride: 1, padding: 1),
]

/// y (N, OC, OH, OW) and dweight by the definition, in Double.
func convolutionDefinition(x: [Float], weight: [Float], bias: [Float]?, dy: [Float], _ s: Conv2DShape, batch n: Int)
    -> (y: [Float], dweight: [Float]) {
    var y = [Double](repeating: 0, count: n * s.outputCount), dweight = [Double](repeating: 0, count: weight.count)
    forEachConvTerm(s, batch: n) { out, xi, wi in
        if let xi {
            y[out] += Double(weight[wi]) * Double(x[xi])
            dweight[wi] += Double(x[xi]) * Double(dy[out])
        }
    }
    if let bias {
        for i in 0..<y.count { y[i] += Double(bias[(i / s.outPixels) % s.outChannels]) }
    }
    return (y.map { Float($0) }, dweight.map { Float($0) })
}

/// Calls `body(output index, input index or nil for padding, weight index)` for every term of
/// every output, in the kernel's order: c, then ky, then kx.
func forEachConvTerm(_ s: Conv2DShape, batch n: Int, _ body: (Int, Int?, Int) -> Void) {
    let (c, oc, k) = (s.inChannels, s.outChannels, s.kernel)
    for i in 0..<n {
        for o in 0..<oc {
            for oy in 0..<s.outHeight {
                for ox in 0..<s.outWidth {
                    let out = ((i * oc + o) * s.outHeight + oy) * s.outWidth + ox
                    for ci in 0..<c {
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let (iy, ix) = (oy * s.stride - s.padding + ky, ox * s.stride - s.padding + kx)
                                let inside = iy >= 0 && iy < s.height && ix >= 0 && ix < s.width
                                body(out, inside ? ((i * c + ci) * s.height + iy) * s.width + ix : nil,
                                     ((o * c + ci) * k + ky) * k + kx)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The forward pass in the documented order, in Float: the bias (or 0), then + w·x per term
/// (padding reads 0), each term one fused multiply-add (rounded once).
func convForwardInOrder(x: [Float], weight: [Float], bias: [Float]?, _ s: Conv2DShape, batch n: Int) -> [Float] {
    var y = [Float](repeating: 0, count: n * s.outputCount)
    if let bias {
        for i in 0..<y.count { y[i] = bias[(i / s.outPixels) % s.outChannels] }
    }
    forEachConvTerm(s, batch: n) { out, xi, wi in
        y[out] = y[out].addingProduct(weight[wi], xi.map { x[$0] } ?? 0)
    }
    return y
}

/// The weight gradient in the documented order, in Float: per sample and weight, 16 lane sums
/// over the output grid (OH rows of ⌈(W + 2P) / S⌉, output (oy, ox) in lane (oy·wq + ox) mod 16,
/// fused multiply-adds in grid order), the lanes added as CKernels' hsum, then added to dweight
/// in sample order.
private func weightGradientInOrder(dy: [Float], x: [Float], _ s: Conv2DShape, batch n: Int) -> [Float] {
    let (c, oc, k) = (s.inChannels, s.outChannels, s.kernel)
    let wq = (s.width + 2 * s.padding + s.stride - 1) / s.stride
    var dweight = [Float](repeating: 0, count: s.weightCount)
    for i in 0..<n {
        for o in 0..<oc {
            for ci in 0..<c {
                for ky in 0..<k {
                    for kx in 0..<k {
                        var lanes = [Float](repeating: 0, count: 16)
                        for oy in 0..<s.outHeight {
                            for ox in 0..<s.outWidth {
                                let (iy, ix) = (oy * s.stride - s.padding + ky, ox * s.stride - s.padding + kx)
                                let inside = iy >= 0 && iy < s.height && ix >= 0 && ix < s.width
                                let xv = inside ? x[((i * c + ci) * s.height + iy) * s.width + ix] : 0
                                let d = dy[((i * oc + o) * s.outHeight + oy) * s.outWidth + ox]
                                let lane = (oy * wq + ox) % 16
                                lanes[lane] = lanes[lane].addingProduct(d, xv)
                            }
                        }
                        let b = (0..<8).map { lanes[$0] + lanes[$0 + 8] }
                        let q = (0..<4).map { b[$0] + b[$0 + 4] }
                        let w = ((o * c + ci) * k + ky) * k + kx
                        dweight[w] = dweight[w] + ((q[0] + q[2]) + (q[1] + q[3]))
                    }
                }
            }
        }
    }
    return dweight
}

struct ConvCase {
    let s: Conv2DShape, n: Int
    let x: [Float], weight: [Float], bias: [Float], dy: [Float]

    init(_ s: Conv2DShape, batch n: Int, key: UInt64) {
        self.s = s
        self.n = n
        x = testValues(n * s.inputCount, key: key)
        weight = testValues(s.weightCount, key: key + 1)
        bias = testValues(s.outChannels, key: key + 2)
        dy = testValues(n * s.outputCount, key: key + 3)
    }

    func forward(bias useBias: Bool = true, batch: Range<Int>? = nil, kernel: DirectConvolutionKernel = .grid) -> [Float] {
        let part = batch ?? 0..<n
        var y = [Float](repeating: 0, count: part.count * s.outputCount)
        x.withUnsafeBufferPointer { xp in
            directConvForward(y: &y, x: xp.baseAddress! + part.lowerBound * s.inputCount, weight: weight,
                              bias: useBias ? bias : nil, batch: part.count, shape: s, kernel: kernel)
        }
        return y
    }

    func weightGradient(into dweight: inout [Float], batch: Range<Int>? = nil, kernel: DirectConvolutionKernel = .grid) {
        let part = batch ?? 0..<n
        x.withUnsafeBufferPointer { xp in
            dy.withUnsafeBufferPointer { dyp in
                directConvWeightGradient(dweight: &dweight, dy: dyp.baseAddress! + part.lowerBound * s.outputCount,
                                         x: xp.baseAddress! + part.lowerBound * s.inputCount, batch: part.count, shape: s,
                                         kernel: kernel)
            }
        }
    }

    /// dx of a stride-1 convolution by a direct kernel.
    func inputGradient(batch: Range<Int>? = nil, kernel: DirectConvolutionKernel) -> [Float] {
        let part = batch ?? 0..<n
        var dx = [Float](repeating: 0, count: part.count * s.inputCount)
        dy.withUnsafeBufferPointer { dyp in
            directConvInputGradient(dx: &dx, dy: dyp.baseAddress! + part.lowerBound * s.outputCount, weight: weight,
                                    batch: part.count, shape: s, kernel: kernel)
        }
        return dx
    }
}

@Test(arguments: edgeShapes)
func directConvolutionMatchesTheDefinition(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 3, key: 700)
    let expected = convolutionDefinition(x: c.x, weight: c.weight, bias: c.bias, dy: c.dy, s, batch: c.n)
    var dweight = [Float](repeating: 0, count: s.weightCount)
    c.weightGradient(into: &dweight)
    assertClose(c.forward(), expected.y, "y")
    assertClose(dweight, expected.dweight, "dweight")
}

@Test(arguments: edgeShapes)
func directConvolutionSumsInTheDocumentedOrder(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 2, key: 710)
    var dweight = [Float](repeating: 0, count: s.weightCount)
    c.weightGradient(into: &dweight)
    #expect(c.forward().map(\.bitPattern) == convForwardInOrder(x: c.x, weight: c.weight, bias: c.bias, s, batch: c.n).map(\.bitPattern))
    #expect(c.forward(bias: false).map(\.bitPattern)
        == convForwardInOrder(x: c.x, weight: c.weight, bias: nil, s, batch: c.n).map(\.bitPattern))
    #expect(dweight.map(\.bitPattern) == weightGradientInOrder(dy: c.dy, x: c.x, s, batch: c.n).map(\.bitPattern))
}

// In KernelPathTests' serialized suite: it switches the process's path.
extension KernelPathTests {
    @Test(arguments: edgeShapes)
    func directConvolutionGivesTheSameBitsOnEveryPath(_ s: Conv2DShape) {
        let c = ConvCase(s, batch: 2, key: 720)
        let results = Self.onEveryPath {
            var dweight = [Float](repeating: 0, count: s.weightCount)
            c.weightGradient(into: &dweight)
            return (c.forward() + dweight).map(\.bitPattern)
        }
        Self.expectOneAnswer(results, "direct conv \(s)", c.n)
    }
}

@Test(arguments: [edgeShapes[1], edgeShapes[0], edgeShapes[7]])
func directConvolutionDoesNotDependOnTheBatchSplit(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 5, key: 730)
    var whole = [Float](repeating: 0, count: s.weightCount), split = whole
    c.weightGradient(into: &whole)
    c.weightGradient(into: &split, batch: 0..<2)
    c.weightGradient(into: &split, batch: 2..<3)
    c.weightGradient(into: &split, batch: 3..<5)
    #expect(whole.map(\.bitPattern) == split.map(\.bitPattern))
    #expect(c.forward().map(\.bitPattern) == (c.forward(batch: 0..<1) + c.forward(batch: 1..<5)).map(\.bitPattern))
}

/// dx of a stride-1 convolution whose planes take the direct kernel (3×3 pad 0: padding
/// K − 1 − P = 2 for the transposed convolution), through conv2dBackward, against the
/// definition; batch 1.
@Test func directInputGradientMatchesTheDefinition() {
    let s = Conv2DShape(inChannels: 5, outChannels: 6, height: 12, width: 11, kernel: 3, stride: 1, padding: 0)
    #expect(s.usesDirectForward && s.transposedStrideOneUsesDirectKernel)
    let c = ConvCase(s, batch: 1, key: 740)
    var dx = [Double](repeating: 0, count: c.x.count)
    forEachConvTerm(s, batch: 1) { out, xi, wi in
        if let xi { dx[xi] += Double(c.weight[wi]) * Double(c.dy[out]) }
    }
    var got = [Float](repeating: 0, count: c.x.count), dweight = [Float](repeating: 0, count: s.weightCount)
    var scratch = [Float](repeating: 0, count: s.scratchCount(imagesPerGEMM: 1))
    conv2dBackward(dx: &got, dweight: &dweight, dbias: nil, dy: c.dy, x: c.x, weight: c.weight, batch: 1, shape: s,
                   scratch: &scratch, imagesPerGEMM: 1)
    assertClose(got, dx.map { Float($0) }, "dx")
}

/// dx of "same" 3×3 and 5×5 convolutions: their transposed convolutions take the compact
/// layout. Through conv2dBackward against the definition, and bit for bit against the forward
/// pass of the flipped, transposed weights in the documented order.
@Test(arguments: [
    Conv2DShape(inChannels: 5, outChannels: 6, height: 12, width: 11, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 4, outChannels: 3, height: 12, width: 12, kernel: 5, stride: 1, padding: 2),
])
func compactInputGradientMatchesTheDefinition(_ s: Conv2DShape) {
    #expect(s.usesDirectForward && s.transposedStrideOneUsesDirectKernel)
    let c = ConvCase(s, batch: 2, key: 750)
    var dx = [Double](repeating: 0, count: c.x.count)
    forEachConvTerm(s, batch: 2) { out, xi, wi in
        if let xi { dx[xi] += Double(c.weight[wi]) * Double(c.dy[out]) }
    }
    var got = [Float](repeating: 0, count: c.x.count), dweight = [Float](repeating: 0, count: s.weightCount)
    var scratch = [Float](repeating: 0, count: s.scratchCount(imagesPerGEMM: 2))
    conv2dBackward(dx: &got, dweight: &dweight, dbias: nil, dy: c.dy, x: c.x, weight: c.weight, batch: 2, shape: s,
                   scratch: &scratch, imagesPerGEMM: 2)
    assertClose(got, dx.map { Float($0) }, "dx")
    let t = Conv2DShape(inChannels: s.outChannels, outChannels: s.inChannels, height: s.outHeight, width: s.outWidth,
                        kernel: s.kernel, stride: 1, padding: s.kernel - 1 - s.padding)
    var flipped = [Float](repeating: 0, count: s.weightCount)
    let taps = s.kernel * s.kernel
    for o in 0..<s.outChannels {
        for ci in 0..<s.inChannels {
            for k in 0..<taps { flipped[(ci * s.outChannels + o) * taps + k] = c.weight[(o * s.inChannels + ci) * taps + taps - 1 - k] }
        }
    }
    #expect(got.map(\.bitPattern) == convForwardInOrder(x: c.dy, weight: flipped, bias: nil, t, batch: 2).map(\.bitPattern))
}

/// Which kernel takes the weight gradient of ResNet's stride-1 3×3 layers: the grid on the
/// 28×28 planes of 16 channels and on 64-channel 14×14 planes, the channel kernel on 14×14 and
/// 16×16 planes of 32 channels.
@Test func weightGradientKernelByShape() {
    func shape(_ c: Int, _ side: Int) -> Conv2DShape {
        Conv2DShape(inChannels: c, outChannels: c, height: side, width: side, kernel: 3, stride: 1, padding: 1)
    }
    #expect(shape(16, 28).weightGradientKernel == .grid)
    #expect(shape(32, 28).weightGradientKernel == .grid)
    #expect(shape(32, 20).weightGradientKernel == .grid)
    #expect(shape(64, 14).weightGradientKernel == .grid)
    #expect(shape(8, 14).weightGradientKernel == .grid)
    #expect(shape(32, 14).weightGradientKernel == .channels)
    #expect(shape(16, 16).weightGradientKernel == .channels)
    #expect(shape(32, 7).weightGradientKernel == .channels)
}
