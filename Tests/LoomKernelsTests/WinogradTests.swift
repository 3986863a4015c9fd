// The Winograd F(2×2, 3×3) kernel (CKernels' Winograd.c) on the edges of its blocking: output
// channels 16, 17, 33 and 48 (units of 16, register blocks of one and two units), input
// channels 1, 5, 16 and 32 (the padded copy's channel units; 32 gets a V row of 48 floats),
// odd and non-square planes (the last tiles read past the image, and their outputs past it
// are dropped), 1×1 to 28×28, batches whose tiles span several chunks and register blocks
// that span samples. Checked bit for bit against a scalar reference of the documented order
// (forward with and without bias, dx), against the definition in Double within the error
// bound of docs/KERNELS.md, on every path, and across splits of the batch.
import LoomKernels
import LoomTestSupport
import Testing

/// The shapes every Winograd test runs (forward, dx and the weight gradient): one channel,
/// odd counts, planes smaller than a tile, non-square planes and ResNet-20's 16x16 at 28x28.
let winogradShapes: [Conv2DShape] = [
    Conv2DShape(inChannels: 1, outChannels: 16, height: 1, width: 1, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 5, outChannels: 17, height: 7, width: 7, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 16, outChannels: 33, height: 5, width: 3, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 32, outChannels: 48, height: 4, width: 6, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 16, outChannels: 16, height: 28, width: 28, kernel: 3, stride: 1, padding: 1),
    Conv2DShape(inChannels: 17, outChannels: 5, height: 2, width: 2, kernel: 3, stride: 1, padding: 1),
]

/// y by the documented order in Float (CKernelsWinograd.h): per tile and channel pair
/// V = Bᵀ d B and U = G g Gᵀ as written out in Winograd.c, M[ξ] = 0 then one fused
/// multiply-add per input channel in order, y = Aᵀ M A, then + bias. `filter(o, c, k)` gives
/// tap k (row-major) of the filter from input channel c to output channel o.
private func winogradInOrder(x: [Float], bias: [Float]?, channels c: Int, outChannels oc: Int, height h: Int,
                             width w: Int, batch n: Int, filter: (Int, Int, Int) -> Float) -> [Float] {
    func transform(_ a: Float, _ b: Float, _ cc: Float, _ d: Float) -> [Float] {
        let v0: Float = a - cc, v1: Float = b + cc, v2: Float = cc - b, v3: Float = b - d
        return [v0, v1, v2, v3]
    }
    func outputRow(_ m0: Float, _ m1: Float, _ m2: Float, _ m3: Float) -> [Float] {
        let a: Float = m0 + m1, b: Float = m1 - m2
        return [a + m2, b - m3]
    }
    func weightRow(_ g0: Float, _ g1: Float, _ g2: Float) -> [Float] {
        let p: Float = g0 + g1, q: Float = g0 - g1
        return [g0, (p + g2) * 0.5, (q + g2) * 0.5, g2]
    }
    var u = [[Float]](repeating: [], count: oc * c)
    for o in 0..<oc {
        for ci in 0..<c {
            let g = (0..<9).map { filter(o, ci, $0) }
            let q = (0..<3).map { k in weightRow(g[k], g[3 + k], g[6 + k]) }  // q[k][i]
            u[o * c + ci] = (0..<4).flatMap { i in weightRow(q[0][i], q[1][i], q[2][i]) }
        }
    }
    var y = [Float](repeating: 0, count: n * oc * h * w)
    for i in 0..<n {
        for ty in 0..<(h + 1) / 2 {
            for tx in 0..<(w + 1) / 2 {
                let v: [[Float]] = (0..<c).map { ci in
                    func d(_ r: Int, _ s: Int) -> Float {
                        let (iy, ix) = (2 * ty - 1 + r, 2 * tx - 1 + s)
                        return iy < 0 || ix < 0 || iy >= h || ix >= w ? 0 : x[((i * c + ci) * h + iy) * w + ix]
                    }
                    let e = (0..<4).map { s in transform(d(0, s), d(1, s), d(2, s), d(3, s)) }  // e[s][r]
                    return (0..<4).flatMap { r in transform(e[0][r], e[1][r], e[2][r], e[3][r]) }
                }
                for o in 0..<oc {
                    var m = [Float](repeating: 0, count: 16)
                    for xi in 0..<16 {
                        for ci in 0..<c { m[xi] = m[xi].addingProduct(u[o * c + ci][xi], v[ci][xi]) }
                    }
                    let r0: [Float] = (0..<4).map { j in outputRow(m[j], m[4 + j], m[8 + j], m[12 + j])[0] }
                    let r1: [Float] = (0..<4).map { j in outputRow(m[j], m[4 + j], m[8 + j], m[12 + j])[1] }
                    for (dy, r) in [r0, r1].enumerated() {
                        for (dx, out) in outputRow(r[0], r[1], r[2], r[3]).enumerated() {
                            let (oy, ox) = (2 * ty + dy, 2 * tx + dx)
                            if oy < h && ox < w { y[((i * oc + o) * h + oy) * w + ox] = bias.map { out + $0[o] } ?? out }
                        }
                    }
                }
            }
        }
    }
    return y
}

extension ConvCase {
    func winogradForward(bias useBias: Bool = true, batch: Range<Int>? = nil) -> [Float] {
        let part = batch ?? 0..<n
        var y = [Float](repeating: 0, count: part.count * s.outputCount)
        x.withUnsafeBufferPointer { xp in
            winogradConvForward(y: &y, x: xp.baseAddress! + part.lowerBound * s.inputCount, weight: weight,
                                bias: useBias ? bias : nil, batch: part.count, shape: s)
        }
        return y
    }

    func winogradInputGradient(batch: Range<Int>? = nil) -> [Float] {
        let part = batch ?? 0..<n
        var dx = [Float](repeating: 0, count: part.count * s.inputCount)
        dy.withUnsafeBufferPointer { dyp in
            winogradConvInputGradient(dx: &dx, dy: dyp.baseAddress! + part.lowerBound * s.outputCount, weight: weight,
                                      batch: part.count, shape: s)
        }
        return dx
    }

    /// The forward pass in the documented order.
    func winogradForwardInOrder(bias useBias: Bool) -> [Float] {
        let (c, oc) = (s.inChannels, s.outChannels)
        return winogradInOrder(x: x, bias: useBias ? bias : nil, channels: c, outChannels: oc, height: s.height,
                               width: s.width, batch: n) { o, ci, k in weight[(o * c + ci) * 9 + k] }
    }

    /// dx in the documented order: dy convolved with the flipped, transposed weights.
    func winogradInputGradientInOrder() -> [Float] {
        let (c, oc) = (s.inChannels, s.outChannels)
        return winogradInOrder(x: dy, bias: nil, channels: oc, outChannels: c, height: s.height, width: s.width,
                               batch: n) { ci, o, k in weight[(o * c + ci) * 9 + 8 - k] }
    }
}

/// Checks |ŷ − y| ≤ γ(C + 11)·E for every output, y the definition in Double and E the same
/// Winograd sum in absolute values (|Aᵀ| (|G| |g| |Gᵀ| ⊙ |Bᵀ| |d| |B|) |A| summed over c, plus
/// |bias|): the bound docs/KERNELS.md derives.
private func expectWithinWinogradBound(_ got: [Float], x: [Float], bias: [Float]?, channels c: Int, outChannels oc: Int,
                                       height h: Int, width w: Int, batch n: Int, filter: (Int, Int, Int) -> Float) {
    let unit = 0x1p-24, gamma = Double(c + 11) * unit / (1 - Double(c + 11) * unit)
    var worst = 0.0
    for i in 0..<n {
        for o in 0..<oc {
            for oy in 0..<h {
                for ox in 0..<w {
                    var exact = bias.map { Double($0[o]) } ?? 0
                    var bound = bias.map { abs(Double($0[o])) } ?? 0
                    // Tile (oy / 2, ox / 2), output (a, b) of it; patch origin (2ty − 1, 2tx − 1).
                    let (a, b) = (oy % 2, ox % 2), (py, px) = (oy - a - 1, ox - b - 1)
                    let absA: [[Double]] = [[1, 1, 1, 0], [0, 1, 1, 1]]
                    let absB: [[Double]] = [[1, 0, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 0, 1]]  // |Bᵀ|
                    let absG: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0, 0, 1]]
                    for ci in 0..<c {
                        func d(_ r: Int, _ s: Int) -> Double {
                            let (iy, ix) = (py + r, px + s)
                            return iy < 0 || ix < 0 || iy >= h || ix >= w ? 0 : Double(x[((i * c + ci) * h + iy) * w + ix])
                        }
                        for ky in 0..<3 {
                            for kx in 0..<3 { exact += Double(filter(o, ci, ky * 3 + kx)) * d(a + ky, b + kx) }
                        }
                        for p in 0..<4 {
                            for q in 0..<4 {
                                var u = 0.0, v = 0.0
                                for r in 0..<3 {
                                    for s in 0..<3 { u += absG[p][r] * abs(Double(filter(o, ci, r * 3 + s))) * absG[q][s] }
                                }
                                for r in 0..<4 {
                                    for s in 0..<4 { v += absB[p][r] * abs(d(r, s)) * absB[q][s] }
                                }
                                bound += absA[a][p] * absA[b][q] * u * v
                            }
                        }
                    }
                    let error = abs(Double(got[((i * oc + o) * h + oy) * w + ox]) - exact)
                    #expect(error <= gamma * bound, "output (\(i), \(o), \(oy), \(ox)): error \(error), bound \(gamma * bound)")
                    if bound > 0 { worst = max(worst, error / bound) }
                }
            }
        }
    }
    #expect(worst < gamma)
}

@Test(arguments: winogradShapes)
func winogradForwardSumsInTheDocumentedOrder(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 2, key: 900)
    #expect(c.winogradForward().map(\.bitPattern) == c.winogradForwardInOrder(bias: true).map(\.bitPattern))
    #expect(c.winogradForward(bias: false).map(\.bitPattern) == c.winogradForwardInOrder(bias: false).map(\.bitPattern))
}

@Test(arguments: winogradShapes)
func winogradInputGradientSumsInTheDocumentedOrder(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 2, key: 910)
    #expect(c.winogradInputGradient().map(\.bitPattern) == c.winogradInputGradientInOrder().map(\.bitPattern))
}

@Test(arguments: winogradShapes)
func winogradStaysWithinItsErrorBound(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 2, key: 920)
    let (ci, oc) = (s.inChannels, s.outChannels)
    expectWithinWinogradBound(c.winogradForward(), x: c.x, bias: c.bias, channels: ci, outChannels: oc, height: s.height,
                              width: s.width, batch: c.n) { o, i, k in c.weight[(o * ci + i) * 9 + k] }
    expectWithinWinogradBound(c.winogradInputGradient(), x: c.dy, bias: nil, channels: oc, outChannels: ci,
                              height: s.height, width: s.width, batch: c.n) { i, o, k in c.weight[(o * ci + i) * 9 + 8 - k] }
}

/// Register blocks and chunks span samples (a 2×2 plane is one tile per sample), yet each
/// sample's outputs do not depend on how the batch is cut.
@Test(arguments: [winogradShapes[4], winogradShapes[5]])
func winogradDoesNotDependOnTheBatchSplit(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 5, key: 930)
    let pieces = [0..<1, 1..<4, 4..<5]
    #expect(c.winogradForward().map(\.bitPattern)
        == pieces.reduce(into: [Float]()) { $0 += c.winogradForward(batch: $1) }.map(\.bitPattern))
    #expect(c.winogradInputGradient().map(\.bitPattern)
        == pieces.reduce(into: [Float]()) { $0 += c.winogradInputGradient(batch: $1) }.map(\.bitPattern))
}

/// conv2dForward and conv2dBackward run Winograd on the shapes it takes when asked, and the
/// direct kernels' bits otherwise.
@Test func conv2dRunsWinogradOnlyWhenAsked() {
    let s = Conv2DShape(inChannels: 16, outChannels: 16, height: 8, width: 8, kernel: 3, stride: 1, padding: 1)
    #expect(s.usesWinogradForward && s.usesWinogradInputGradient)
    #expect(!Conv2DShape(inChannels: 16, outChannels: 16, height: 8, width: 8, kernel: 3, stride: 2, padding: 1).usesWinogradForward)
    #expect(!Conv2DShape(inChannels: 1, outChannels: 16, height: 28, width: 28, kernel: 3, stride: 1, padding: 1).usesWinogradForward)
    #expect(!Conv2DShape(inChannels: 512, outChannels: 512, height: 2, width: 2, kernel: 3, stride: 1, padding: 1).usesWinogradForward)
    let c = ConvCase(s, batch: 2, key: 940)
    var scratch = [Float](repeating: 0, count: s.scratchCount(imagesPerGEMM: 2))
    func run(winograd: Bool) -> (y: [Float], dx: [Float]) {
        var y = [Float](repeating: 0, count: c.n * s.outputCount), dx = [Float](repeating: 0, count: c.n * s.inputCount)
        var dweight = [Float](repeating: 0, count: s.weightCount)
        conv2dForward(y: &y, x: c.x, weight: c.weight, bias: c.bias, batch: c.n, shape: s, scratch: &scratch, imagesPerGEMM: 2,
                      winograd: winograd)
        conv2dBackward(dx: &dx, dweight: &dweight, dbias: nil, dy: c.dy, x: c.x, weight: c.weight, batch: c.n, shape: s,
                       scratch: &scratch, imagesPerGEMM: 2, winograd: winograd)
        return (y, dx)
    }
    let (fast, direct) = (run(winograd: true), run(winograd: false))
    #expect(fast.y.map(\.bitPattern) == c.winogradForward().map(\.bitPattern))
    #expect(fast.dx.map(\.bitPattern) == c.winogradInputGradient().map(\.bitPattern))
    #expect(direct.y.map(\.bitPattern) == c.forward(kernel: s.forwardKernel!).map(\.bitPattern))
    #expect(direct.dx.map(\.bitPattern) == c.inputGradient(kernel: s.inputGradientKernel!).map(\.bitPattern))
    #expect(fast.y.map(\.bitPattern) != direct.y.map(\.bitPattern))
}

// In KernelPathTests' serialized suite: it switches the process's path.
extension KernelPathTests {
    @Test(arguments: winogradShapes)
    func winogradGivesTheSameBitsOnEveryPath(_ s: Conv2DShape) {
        let c = ConvCase(s, batch: 2, key: 950)
        let results = Self.onEveryPath { (c.winogradForward() + c.winogradInputGradient()).map(\.bitPattern) }
        Self.expectOneAnswer(results, "winograd \(s)", c.n)
    }
}
