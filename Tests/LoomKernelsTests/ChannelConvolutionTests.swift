// The channel-vectorised direct convolution (CKernels' ChannelConvKernels.c) on the edges of
// its blocking: output channels 1, 16, 17, 33 (units of 16 and register blocks of two),
// weight rows not a multiple of the 9-row block, pixel counts not a multiple of the 10-pixel
// block and blocks spanning samples, 1×1 and 2×2 planes, strides 1 and 2, a 1×1 strided
// kernel, channel counts whose padded copies get 16 spare floats per pixel (multiples of 32),
// and passes of more than 2304 rows, which run in row chunks (288 input channels forward,
// 288 output channels for dx); and its strided dx (one pass per phase) for strides 2 and 3. Checked against the
// definition in Double, bit for bit against the grid kernel (forward and stride-1 dx) and
// against its documented orders (weight gradient, strided dx), on every path, and across
// splits of the batch.
import LoomKernels
import LoomTestSupport
import Testing

private let channelShapes: [Conv2DShape] = [
    Conv2DShape(inChannels: 5, outChannels: 17, height: 2, width: 2, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 3, outChannels: 33, height: 4, width: 4, kernel: 3, stride: 2, padding: 1),
    Conv2DShape(inChannels: 7, outChannels: 16, height: 3, width: 3, kernel: 1, stride: 2, padding: 0),
    Conv2DShape(inChannels: 4, outChannels: 1, height: 5, width: 6, kernel: 3, stride: 1, padding: 0),
    Conv2DShape(inChannels: 2, outChannels: 20, height: 3, width: 3, kernel: 5, stride: 1, padding: 2),
    Conv2DShape(inChannels: 6, outChannels: 35, height: 7, width: 7, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 32, outChannels: 17, height: 2, width: 2, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 288, outChannels: 17, height: 2, width: 2, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 3, outChannels: 288, height: 2, width: 2, kernel: 3, stride: 1, padding: 1),
    // Planes whose passes skip padding terms in classes of pixels (at most 3/4 of the
    // (pixel, tap) pairs inside): 4×4 (9 classes), 4×4 → 2×2 of stride 2, 3×3 with a 5×5 kernel.
    Conv2DShape(inChannels: 19, outChannels: 33, height: 4, width: 4, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 33, outChannels: 18, height: 4, width: 4, kernel: 3, stride: 2, padding: 1),
    Conv2DShape(inChannels: 3, outChannels: 17, height: 3, width: 3, kernel: 5, stride: 1, padding: 2),
]

/// The weight gradient in the channel kernel's order, in Float: per weight one chain of fused
/// multiply-adds from its value, samples in order, output pixels in row order, padding dy·0.
private func channelWeightGradientInOrder(dweight: [Float], dy: [Float], x: [Float], _ s: Conv2DShape,
                                          batch n: Int) -> [Float] {
    let (c, oc, k) = (s.inChannels, s.outChannels, s.kernel)
    var dweight = dweight
    for o in 0..<oc {
        for ci in 0..<c {
            for ky in 0..<k {
                for kx in 0..<k {
                    let w = ((o * c + ci) * k + ky) * k + kx
                    for i in 0..<n {
                        for oy in 0..<s.outHeight {
                            for ox in 0..<s.outWidth {
                                let (iy, ix) = (oy * s.stride - s.padding + ky, ox * s.stride - s.padding + kx)
                                let inside = iy >= 0 && iy < s.height && ix >= 0 && ix < s.width
                                let xv = inside ? x[((i * c + ci) * s.height + iy) * s.width + ix] : 0
                                dweight[w] = dweight[w].addingProduct(dy[((i * oc + o) * s.outHeight + oy) * s.outWidth + ox], xv)
                            }
                        }
                    }
                }
            }
        }
    }
    return dweight
}

/// dx of a convolution by the definition, in Double.
private func inputGradientDefinition(_ c: ConvCase) -> [Float] {
    var dx = [Double](repeating: 0, count: c.x.count)
    forEachConvTerm(c.s, batch: c.n) { out, xi, wi in
        if let xi { dx[xi] += Double(c.weight[wi]) * Double(c.dy[out]) }
    }
    return dx.map { Float($0) }
}

@Test(arguments: channelShapes)
func channelConvolutionMatchesTheDefinition(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 3, key: 800)
    let expected = convolutionDefinition(x: c.x, weight: c.weight, bias: c.bias, dy: c.dy, s, batch: c.n)
    var dweight = [Float](repeating: 0, count: s.weightCount)
    c.weightGradient(into: &dweight, kernel: .channels)
    assertClose(c.forward(kernel: .channels), expected.y, "y")
    assertClose(dweight, expected.dweight, "dweight")
}

@Test(arguments: channelShapes)
func channelConvolutionForwardGivesTheGridKernelsBits(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 3, key: 810)
    let inOrder = convForwardInOrder(x: c.x, weight: c.weight, bias: c.bias, s, batch: c.n).map(\.bitPattern)
    #expect(c.forward(kernel: .channels).map(\.bitPattern) == inOrder)
    #expect(c.forward(kernel: .grid).map(\.bitPattern) == inOrder)
    #expect(c.forward(bias: false, kernel: .channels).map(\.bitPattern)
        == convForwardInOrder(x: c.x, weight: c.weight, bias: nil, s, batch: c.n).map(\.bitPattern))
}

@Test(arguments: channelShapes)
func channelWeightGradientSumsInTheDocumentedOrder(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 2, key: 820)
    // From a non-zero gradient: the chain starts from each weight's value.
    let start = testValues(s.weightCount, key: 821)
    var dweight = start
    c.weightGradient(into: &dweight, kernel: .channels)
    #expect(dweight.map(\.bitPattern)
        == channelWeightGradientInOrder(dweight: start, dy: c.dy, x: c.x, s, batch: c.n).map(\.bitPattern))
}

/// From a gradient of +0 (each micro-shard's start), whose units the kernel sets to +0 rather
/// than reading them through its transposes, and from one whose last weight only is not zero
/// (that unit read, the others set): the documented order's bits. The 2×2 and 4×4 planes
/// among the shapes skip their padding terms (dy·0) on the AVX-512 path.
@Test(arguments: channelShapes)
func channelWeightGradientFromZeroSumsInTheDocumentedOrder(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 2, key: 825)
    var start = [Float](repeating: 0, count: s.weightCount)
    for last in [false, true] {
        if last { start[start.count - 1] = 0.5 }
        var dweight = start
        c.weightGradient(into: &dweight, kernel: .channels)
        #expect(dweight.map(\.bitPattern)
            == channelWeightGradientInOrder(dweight: start, dy: c.dy, x: c.x, s, batch: c.n).map(\.bitPattern))
    }
}

/// A pass that skips its padding terms (a 1×1 plane reads 1 of its 9 taps) must not run from
/// a bias of −0: there a padding term w·(+0) with w > 0 turns the chain's −0 into +0, and a
/// plane of zeros with a negative centre weight would otherwise keep −0. The kernel gives the
/// documented order's bits for such a bias, and for a +0 one.
@Test func channelForwardFromANegativeZeroBiasKeepsItsPaddingTerms() {
    let s = Conv2DShape(inChannels: 2, outChannels: 16, height: 1, width: 1, kernel: 3, stride: 1, padding: 1)
    let x = [Float](repeating: 0, count: 2 * s.inputCount)
    let weight = (0..<s.weightCount).map { $0 % 9 == 4 ? Float(-1) : Float(1) }
    for b in [Float(-0.0), Float(0)] {
        let bias = [Float](repeating: b, count: s.outChannels)
        var y = [Float](repeating: 1, count: 2 * s.outputCount)
        directConvForward(y: &y, x: x, weight: weight, bias: bias, batch: 2, shape: s, kernel: .channels)
        let inOrder = convForwardInOrder(x: x, weight: weight, bias: bias, s, batch: 2)
        #expect(y.map(\.bitPattern) == inOrder.map(\.bitPattern))
        #expect(inOrder.allSatisfy { $0 == 0 && $0.sign == .plus })
    }
}

/// Stride-1 shapes whose dx both kernels compute: same bits, and the definition's values.
@Test(arguments: channelShapes.filter { $0.stride == 1 && $0.padding <= $0.kernel - 1 && $0.kernel > 1 })
func channelInputGradientGivesTheGridKernelsBits(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 3, key: 830)
    let channels = c.inputGradient(kernel: .channels)
    assertClose(channels, inputGradientDefinition(c), "dx")
    #expect(channels.map(\.bitPattern) == c.inputGradient(kernel: .grid).map(\.bitPattern))
}

/// Samples share register blocks (10 pixels of a 2×2 plane span three samples), and a
/// chunked pass keeps sums of blocks of several samples between chunks, yet each sample's
/// outputs and the summed weight gradient do not depend on how the batch is cut.
@Test(arguments: [channelShapes[0], channelShapes[7], channelShapes[8]])
func channelConvolutionDoesNotDependOnTheBatchSplit(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 7, key: 840)
    var whole = [Float](repeating: 0, count: s.weightCount), split = whole
    c.weightGradient(into: &whole, kernel: .channels)
    for part in [0..<3, 3..<4, 4..<7] { c.weightGradient(into: &split, batch: part, kernel: .channels) }
    #expect(whole.map(\.bitPattern) == split.map(\.bitPattern))
    let y = c.forward(kernel: .channels)
    let pieces = [0..<1, 1..<6, 6..<7].reduce(into: [Float]()) { $0 += c.forward(batch: $1, kernel: .channels) }
    #expect(y.map(\.bitPattern) == pieces.map(\.bitPattern))
    let dx = c.inputGradient(kernel: .channels)
    let dxPieces = [0..<2, 2..<7].reduce(into: [Float]()) { $0 += c.inputGradient(batch: $1, kernel: .channels) }
    #expect(dx.map(\.bitPattern) == dxPieces.map(\.bitPattern))
}

/// conv2dForward and conv2dBackward route ResNet's small-plane shapes to the channel kernel
/// (forward, dx and dweight) and give the definition's values through it.
@Test func resNetSmallPlanesTakeTheChannelKernel() {
    let s = Conv2DShape(inChannels: 16, outChannels: 32, height: 4, width: 4, kernel: 3, stride: 1, padding: 1)
    #expect(s.forwardKernel == .channels && s.inputGradientKernel == .channels && s.weightGradientKernel == .channels)
    let strided = Conv2DShape(inChannels: 16, outChannels: 32, height: 8, width: 8, kernel: 1, stride: 2, padding: 0)
    #expect(strided.forwardKernel == .channels && strided.weightGradientKernel == .channels)
    let c = ConvCase(s, batch: 2, key: 850)
    var y = [Float](repeating: 0, count: c.n * s.outputCount)
    var scratch = [Float](repeating: 0, count: s.scratchCount(imagesPerGEMM: 2))
    conv2dForward(y: &y, x: c.x, weight: c.weight, bias: c.bias, batch: c.n, shape: s, scratch: &scratch, imagesPerGEMM: 2)
    var dx = [Float](repeating: 0, count: c.x.count), dweight = [Float](repeating: 0, count: s.weightCount)
    conv2dBackward(dx: &dx, dweight: &dweight, dbias: nil, dy: c.dy, x: c.x, weight: c.weight, batch: c.n, shape: s,
                   scratch: &scratch, imagesPerGEMM: 2)
    let expected = convolutionDefinition(x: c.x, weight: c.weight, bias: c.bias, dy: c.dy, s, batch: c.n)
    assertClose(y, expected.y, "y")
    assertClose(dweight, expected.dweight, "dweight")
    assertClose(dx, inputGradientDefinition(c), "dx")
}

private let stridedShapes: [Conv2DShape] = [
    Conv2DShape(inChannels: 5, outChannels: 7, height: 9, width: 9, kernel: 3, stride: 2, padding: 1),
    Conv2DShape(inChannels: 17, outChannels: 20, height: 8, width: 7, kernel: 1, stride: 2, padding: 0),
    Conv2DShape(inChannels: 3, outChannels: 33, height: 7, width: 7, kernel: 5, stride: 2, padding: 2),
    Conv2DShape(inChannels: 4, outChannels: 18, height: 10, width: 10, kernel: 3, stride: 3, padding: 0),
    Conv2DShape(inChannels: 16, outChannels: 16, height: 4, width: 4, kernel: 3, stride: 2, padding: 1),
    Conv2DShape(inChannels: 16, outChannels: 32, height: 4, width: 4, kernel: 3, stride: 2, padding: 1),
]

/// dx of a strided convolution in the documented order, in Float: 0, then for o in order the
/// taps (ky, kx) that reach the pixel (ky ≡ iy + p mod s, likewise in x) in order, one fused
/// multiply-add each, dy outside the output reading 0.
private func stridedInputGradientInOrder(_ c: ConvCase) -> [Float] {
    let s = c.s
    let (ci, oc, k, st) = (s.inChannels, s.outChannels, s.kernel, s.stride)
    func reaches(_ i: Int, _ t: Int) -> Int? {
        let q = i + s.padding - t
        return ((q % st) + st) % st == 0 ? (q >= 0 ? q / st : -1) : nil
    }
    var dx = [Float](repeating: 0, count: c.x.count)
    for n in 0..<c.n {
        for cc in 0..<ci {
            for iy in 0..<s.height {
                for ix in 0..<s.width {
                    var sum: Float = 0
                    for o in 0..<oc {
                        for ky in 0..<k {
                            guard let oy = reaches(iy, ky) else { continue }
                            for kx in 0..<k {
                                guard let ox = reaches(ix, kx) else { continue }
                                let inside = oy >= 0 && oy < s.outHeight && ox >= 0 && ox < s.outWidth
                                let d = inside ? c.dy[((n * oc + o) * s.outHeight + oy) * s.outWidth + ox] : 0
                                sum = sum.addingProduct(c.weight[((o * ci + cc) * k + ky) * k + kx], d)
                            }
                        }
                    }
                    dx[((n * ci + cc) * s.height + iy) * s.width + ix] = sum
                }
            }
        }
    }
    return dx
}

extension ConvCase {
    func stridedInputGradient(batch: Range<Int>? = nil) -> [Float] {
        let part = batch ?? 0..<n
        // NaN to start with: every element must be written, those no tap reaches with 0.
        var dx = [Float](repeating: .nan, count: part.count * s.inputCount)
        dy.withUnsafeBufferPointer { dyp in
            directConvStridedInputGradient(dx: &dx, dy: dyp.baseAddress! + part.lowerBound * s.outputCount, weight: weight,
                                           batch: part.count, shape: s)
        }
        return dx
    }
}

@Test(arguments: stridedShapes)
func stridedInputGradientMatchesTheDefinitionInItsOrder(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 2, key: 870)
    let dx = c.stridedInputGradient()
    assertClose(dx, inputGradientDefinition(c), "dx")
    #expect(dx.map(\.bitPattern) == stridedInputGradientInOrder(c).map(\.bitPattern))
    let pieces = [0..<1, 1..<2].reduce(into: [Float]()) { $0 += c.stridedInputGradient(batch: $1) }
    #expect(dx.map(\.bitPattern) == pieces.map(\.bitPattern))
}

/// conv2dBackward takes the strided kernel for dx with 16 input channels or more.
@Test func stridedInputGradientRunsInConv2DBackward() {
    let s = stridedShapes[4]
    #expect(s.usesStridedInputGradient && !stridedShapes[0].usesStridedInputGradient)
    let c = ConvCase(s, batch: 2, key: 880)
    var dx = [Float](repeating: 0, count: c.x.count), dweight = [Float](repeating: 0, count: s.weightCount)
    var scratch = [Float](repeating: 0, count: s.scratchCount(imagesPerGEMM: 2))
    conv2dBackward(dx: &dx, dweight: &dweight, dbias: nil, dy: c.dy, x: c.x, weight: c.weight, batch: c.n, shape: s,
                   scratch: &scratch, imagesPerGEMM: 2)
    #expect(dx.map(\.bitPattern) == stridedInputGradientInOrder(c).map(\.bitPattern))
}

// In KernelPathTests' serialized suite: it switches the process's path.
extension KernelPathTests {
    @Test(arguments: channelShapes)
    func channelConvolutionGivesTheSameBitsOnEveryPath(_ s: Conv2DShape) {
        let c = ConvCase(s, batch: 2, key: 860)
        let results = Self.onEveryPath {
            var dweight = [Float](repeating: 0, count: s.weightCount)
            c.weightGradient(into: &dweight, kernel: .channels)
            let dx = s.stride == 1 && s.padding <= s.kernel - 1 && s.kernel > 1 ? c.inputGradient(kernel: .channels) : []
            return (c.forward(kernel: .channels) + dweight + dx).map(\.bitPattern)
        }
        Self.expectOneAnswer(results, "channel conv \(s)", c.n)
    }

    @Test(arguments: stridedShapes)
    func stridedInputGradientGivesTheSameBitsOnEveryPath(_ s: Conv2DShape) {
        let c = ConvCase(s, batch: 2, key: 890)
        Self.expectOneAnswer(Self.onEveryPath { c.stridedInputGradient().map(\.bitPattern) }, "strided dx \(s)", c.n)
    }
}
