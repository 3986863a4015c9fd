// The Winograd weight gradient (CKernels' `loom_winograd_weight_gradient`, Winograd.c) on the
// shapes of WinogradTests (channel units of one and two register blocks, channels past a
// unit, odd and non-square planes whose last tiles' dy lies past the plane, chunks of tiles
// that span samples): bit for bit against a scalar reference of the documented order, within
// the error bound of docs/KERNELS.md of the definition in Double, on every path, and routed by
// conv2dBackward only when asked.
import LoomKernels
import LoomTestSupport
import Testing

/// The transforms of one tile of a ConvCase, as CKernelsWinograd.h writes them out: V[c] =
/// Bᵀ d B of the input patch and Ŷ[o] = A t Aᵀ of the 2×2 block of dy, 16 values each
/// (ξ = 4·row + column), in Float, or (`magnitudes`) the same sums of absolute values in
/// Double for the error bound.
private struct TileTransforms {
    let c: ConvCase
    var tilesPerRow: Int { (c.s.width + 1) / 2 }
    var tiles: Int { c.n * ((c.s.height + 1) / 2) * tilesPerRow }

    /// Input channel ci's pixel (r, s) of tile `t`'s 4×4 patch, 0 outside the image.
    func patch(_ t: Int, _ ci: Int, _ r: Int, _ s: Int) -> Float {
        let (h, w) = (c.s.height, c.s.width), perSample = (h + 1) / 2 * tilesPerRow
        let (i, q) = (t / perSample, t % perSample)
        let (iy, ix) = (2 * (q / tilesPerRow) - 1 + r, 2 * (q % tilesPerRow) - 1 + s)
        return iy < 0 || ix < 0 || iy >= h || ix >= w ? 0 : c.x[((i * c.s.inChannels + ci) * h + iy) * w + ix]
    }

    /// Output channel o's dy at (a, b) of tile `t`'s 2×2 block, 0 past the plane.
    func block(_ t: Int, _ o: Int, _ a: Int, _ b: Int) -> Float {
        let (h, w) = (c.s.height, c.s.width), perSample = (h + 1) / 2 * tilesPerRow
        let (i, q) = (t / perSample, t % perSample)
        let (oy, ox) = (2 * (q / tilesPerRow) + a, 2 * (q % tilesPerRow) + b)
        return oy >= h || ox >= w ? 0 : c.dy[((i * c.s.outChannels + o) * h + oy) * w + ox]
    }

    func v(_ t: Int, _ ci: Int) -> [Float] {
        func row(_ a: Float, _ b: Float, _ cc: Float, _ d: Float) -> [Float] {
            let v0: Float = a - cc, v1: Float = b + cc, v2: Float = cc - b, v3: Float = b - d
            return [v0, v1, v2, v3]
        }
        let e = (0..<4).map { s in row(patch(t, ci, 0, s), patch(t, ci, 1, s), patch(t, ci, 2, s), patch(t, ci, 3, s)) }
        return (0..<4).flatMap { r in row(e[0][r], e[1][r], e[2][r], e[3][r]) }
    }

    func yhat(_ t: Int, _ o: Int) -> [Float] {
        func row(_ t0: Float, _ t1: Float) -> [Float] {
            let sum: Float = t0 + t1, difference: Float = t0 - t1
            return [t0, sum, difference, -t1]
        }
        let e = (0..<2).map { b in row(block(t, o, 0, b), block(t, o, 1, b)) }  // e[b][p]
        return (0..<4).flatMap { p in row(e[0][p], e[1][p]) }
    }

    /// |Bᵀ| |d| |B| and |A| |t| |Aᵀ|, in Double.
    func vMagnitude(_ t: Int, _ ci: Int) -> [Double] {
        let absB: [[Double]] = [[1, 0, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 0, 1]]
        return (0..<16).map { xi in
            var sum = 0.0
            for r in 0..<4 {
                for s in 0..<4 { sum += absB[xi / 4][r] * Double(abs(patch(t, ci, r, s))) * absB[xi % 4][s] }
            }
            return sum
        }
    }

    func yhatMagnitude(_ t: Int, _ o: Int) -> [Double] {
        let absA: [[Double]] = [[1, 0], [1, 1], [1, 1], [0, 1]]
        return (0..<16).map { xi in
            var sum = 0.0
            for a in 0..<2 {
                for b in 0..<2 { sum += absA[xi / 4][a] * Double(abs(block(t, o, a, b))) * absA[xi % 4][b] }
            }
            return sum
        }
    }
}

extension ConvCase {
    func winogradWeightGradient(start: [Float]) -> [Float] {
        var dweight = start
        x.withUnsafeBufferPointer { xp in
            dy.withUnsafeBufferPointer { dyp in
                winogradConvWeightGradient(dweight: &dweight, dy: dyp.baseAddress!, x: xp.baseAddress!, batch: n, shape: s)
            }
        }
        return dweight
    }

    /// dweight in the documented order: M[ξ, o, c] = 0, then one fused multiply-add per tile
    /// in order, then start + Gᵀ M G, rows then columns.
    func winogradWeightGradientInOrder(start: [Float]) -> [Float] {
        let (ci, oc) = (s.inChannels, s.outChannels), tiles = TileTransforms(c: self)
        var m = [Float](repeating: 0, count: oc * ci * 16)
        for t in 0..<tiles.tiles {
            let v = (0..<ci).map { tiles.v(t, $0) }, y = (0..<oc).map { tiles.yhat(t, $0) }
            for o in 0..<oc {
                for c in 0..<ci {
                    for xi in 0..<16 { m[(o * ci + c) * 16 + xi] = m[(o * ci + c) * 16 + xi].addingProduct(y[o][xi], v[c][xi]) }
                }
            }
        }
        func row(_ m0: Float, _ m1: Float, _ m2: Float, _ m3: Float) -> [Float] {
            let sum: Float = m1 + m2, difference: Float = m1 - m2
            let half: Float = sum * 0.5
            return [m0 + half, difference * 0.5, half + m3]
        }
        var dweight = start
        for p in 0..<(oc * ci) {
            let mm = Array(m[(p * 16)..<(p * 16 + 16)])
            let r = (0..<4).map { j in row(mm[j], mm[4 + j], mm[8 + j], mm[12 + j]) }  // r[j][k]
            for k in 0..<3 {
                for (l, out) in row(r[0][k], r[1][k], r[2][k], r[3][k]).enumerated() { dweight[p * 9 + 3 * k + l] += out }
            }
        }
        return dweight
    }
}

@Test(arguments: winogradShapes)
func winogradWeightGradientSumsInTheDocumentedOrder(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 2, key: 960)
    let start = testValues(s.weightCount, key: 965)
    #expect(c.winogradWeightGradient(start: start).map(\.bitPattern)
        == c.winogradWeightGradientInOrder(start: start).map(\.bitPattern))
}

/// |ΔdW| ≤ γ(T + 9)·E for every weight, T the batch's tiles and E the same Winograd sum in
/// absolute values, Σ_tiles |Gᵀ| (|A| |t| |Aᵀ| ⊙ |Bᵀ| |d| |B|) |G|: every term passes through at
/// most T + 9 roundings (2 in Ŷ, 2 in V, T in the chain of M, 4 in Gᵀ M G, 1 adding into
/// dweight, which starts at 0 here), the bound docs/KERNELS.md derives.
@Test(arguments: winogradShapes)
func winogradWeightGradientStaysWithinItsErrorBound(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 2, key: 970)
    let (ci, oc) = (s.inChannels, s.outChannels), tiles = TileTransforms(c: c)
    let got = c.winogradWeightGradient(start: [Float](repeating: 0, count: s.weightCount))
    var exact = [Double](repeating: 0, count: s.weightCount), bound = exact
    let absG: [[Double]] = [[1, 0.5, 0.5, 0], [0, 0.5, 0.5, 0], [0, 0.5, 0.5, 1]]  // |Gᵀ|
    for t in 0..<tiles.tiles {
        let v = (0..<ci).map { tiles.vMagnitude(t, $0) }, y = (0..<oc).map { tiles.yhatMagnitude(t, $0) }
        for o in 0..<oc {
            for i in 0..<ci {
                for k in 0..<9 {
                    let (ky, kx) = (k / 3, k % 3)
                    for a in 0..<2 {
                        for b in 0..<2 {
                            exact[(o * ci + i) * 9 + k] += Double(tiles.block(t, o, a, b)) * Double(tiles.patch(t, i, a + ky, b + kx))
                        }
                    }
                    var e = 0.0
                    for xi in 0..<16 { e += absG[ky][xi / 4] * absG[kx][xi % 4] * y[o][xi] * v[i][xi] }
                    bound[(o * ci + i) * 9 + k] += e
                }
            }
        }
    }
    let rounds = Double(tiles.tiles + 9), unit = 0x1p-24, gamma = rounds * unit / (1 - rounds * unit)
    for p in 0..<s.weightCount {
        let error = abs(Double(got[p]) - exact[p])
        #expect(error <= gamma * bound[p], "weight \(p): error \(error), bound \(gamma * bound[p])")
    }
}

/// conv2dBackward runs the Winograd weight gradient on the shapes it takes when asked, and the
/// direct kernels' bits otherwise; wide layers on small planes stay direct.
@Test func conv2dRunsTheWinogradWeightGradientOnlyWhenAsked() {
    let s = Conv2DShape(inChannels: 16, outChannels: 16, height: 8, width: 8, kernel: 3, stride: 1, padding: 1)
    #expect(s.usesWinogradWeightGradient)
    #expect(Conv2DShape(inChannels: 128, outChannels: 128, height: 4, width: 4, kernel: 3, stride: 1, padding: 1)
        .usesWinogradWeightGradient)
    #expect(!Conv2DShape(inChannels: 256, outChannels: 256, height: 4, width: 4, kernel: 3, stride: 1, padding: 1)
        .usesWinogradWeightGradient)
    #expect(Conv2DShape(inChannels: 256, outChannels: 256, height: 8, width: 8, kernel: 3, stride: 1, padding: 1)
        .usesWinogradWeightGradient)
    #expect(!Conv2DShape(inChannels: 16, outChannels: 16, height: 8, width: 8, kernel: 3, stride: 2, padding: 1)
        .usesWinogradWeightGradient)
    let c = ConvCase(s, batch: 3, key: 980)
    var scratch = [Float](repeating: 0, count: s.scratchCount(imagesPerGEMM: 3))
    func run(winograd: Bool) -> [Float] {
        var dx = [Float](repeating: 0, count: c.n * s.inputCount), dweight = testValues(s.weightCount, key: 985)
        conv2dBackward(dx: &dx, dweight: &dweight, dbias: nil, dy: c.dy, x: c.x, weight: c.weight, batch: c.n, shape: s,
                       scratch: &scratch, imagesPerGEMM: 3, winograd: winograd)
        return dweight
    }
    var direct = testValues(s.weightCount, key: 985)
    c.weightGradient(into: &direct, kernel: s.weightGradientKernel!)
    #expect(run(winograd: true).map(\.bitPattern) == c.winogradWeightGradient(start: testValues(s.weightCount, key: 985)).map(\.bitPattern))
    #expect(run(winograd: false).map(\.bitPattern) == direct.map(\.bitPattern))
    #expect(run(winograd: true).map(\.bitPattern) != direct.map(\.bitPattern))
}

// In KernelPathTests' serialized suite: it switches the process's path.
extension KernelPathTests {
    @Test(arguments: winogradShapes)
    func winogradWeightGradientGivesTheSameBitsOnEveryPath(_ s: Conv2DShape) {
        let c = ConvCase(s, batch: 2, key: 990)
        let start = [Float](repeating: 0, count: s.weightCount)
        let results = Self.onEveryPath { c.winogradWeightGradient(start: start).map(\.bitPattern) }
        Self.expectOneAnswer(results, "winograd dweight \(s)", c.n)
    }
}

/// winogradConvBackward (what conv2dBackward runs when both passes are Winograd's) copies dy
/// once for both: the same dweight and dx as the two calls, on every shape the tests take.
@Test(arguments: winogradShapes)
func winogradBackwardEqualsTheTwoPasses(_ s: Conv2DShape) {
    let c = ConvCase(s, batch: 3, key: 990)
    let start = testValues(s.weightCount, key: 991)
    var dweight = start, dx = [Float](repeating: 0, count: c.n * s.inputCount)
    winogradConvBackward(dx: &dx, dweight: &dweight, dy: c.dy, x: c.x, weight: c.weight, batch: c.n, shape: s)
    #expect(dweight.map(\.bitPattern) == c.winogradWeightGradient(start: start).map(\.bitPattern))
    #expect(dx.map(\.bitPattern) == c.winogradInputGradient().map(\.bitPattern))
}
