// The fused batch norm → 2x2 max pool → ReLU tail against the three kernels it replaces
// (each checked against PyTorch in the fixture tests), including odd sizes, eval mode,
// statistics from conv moments and the two-half backward pass.
import LoomKernels
import LoomTestSupport
import Testing

/// Sizes (N, C, H, W): even, odd (floor-mode pooling drops a row and a column), a width
/// whose pooled rows are not a multiple of four, rows of more than 16 windows (not a
/// multiple of 16: the kernel's last group overlaps), one window per plane.
private let tailShapes: [[Int]] = [[3, 4, 6, 8], [2, 3, 7, 5], [2, 2, 4, 14], [2, 2, 5, 38], [3, 2, 3, 3]]

private struct Tail {
    let n: Int, c: Int, h: Int, w: Int
    let x: [Float], dy: [Float], weight: [Float], bias: [Float]
    var pooledCount: Int { n * c * (h / 2) * (w / 2) }
    var pool: Pool2DShape { Pool2DShape(channels: c, height: h, width: w, kernel: 2, stride: 2) }

    init(_ s: [Int], key: UInt64) {
        let (n, c, h, w) = (s[0], s[1], s[2], s[3])
        (self.n, self.c, self.h, self.w) = (n, c, h, w)
        // An offset mean per channel, so that centring matters.
        x = testValues(n * c * h * w, key: key).enumerated().map { i, v in v + Float((i / (h * w)) % c) }
        dy = testValues(n * c * (h / 2) * (w / 2), key: key + 1)
        weight = testValues(c, key: key + 2).map { $0 + 1.5 }
        bias = testValues(c, key: key + 3)
    }
}

/// Batch norm (training), max pool, ReLU as three kernels: y, argmax, mean, invStd, var.
private func unfusedForward(_ t: Tail) -> (y: [Float], argmax: [Int32], mean: [Float], invStd: [Float], variance: [Float]) {
    var z = [Float](repeating: 0, count: t.x.count)
    var mean = [Float](repeating: 0, count: t.c), invStd = mean, variance = mean
    batchNormForwardTraining(y: &z, mean: &mean, invStd: &invStd, unbiasedVar: &variance, x: t.x, weight: t.weight,
                             bias: t.bias, batch: t.n, channels: t.c, spatial: t.h * t.w, eps: 1e-5)
    var y = [Float](repeating: 0, count: t.pooledCount)
    var argmax = [Int32](repeating: 0, count: t.pooledCount)
    maxPool2dForward(y: &y, argmax: &argmax, x: z, batch: t.n, shape: t.pool)
    reluForward(y: &y, x: y, count: y.count)
    return (y, argmax, mean, invStd, variance)
}

private struct FusedForward {
    var y: [Float], argmax: [Int32], selected: [Float], mean: [Float], invStd: [Float], variance: [Float]
}

private func fusedForward(_ t: Tail, moments: [Float]? = nil) -> FusedForward {
    var r = FusedForward(y: .init(repeating: 0, count: t.pooledCount), argmax: .init(repeating: 0, count: t.pooledCount),
                         selected: .init(repeating: 0, count: t.pooledCount), mean: .init(repeating: 0, count: t.c),
                         invStd: .init(repeating: 0, count: t.c), variance: .init(repeating: 0, count: t.c))
    batchNormPoolReLUForwardTraining(y: &r.y, argmax: &r.argmax, selected: &r.selected, mean: &r.mean,
                                     invStd: &r.invStd, unbiasedVar: &r.variance, x: t.x, weight: t.weight,
                                     bias: t.bias, batch: t.n, channels: t.c, height: t.h, width: t.w, eps: 1e-5,
                                     moments: moments)
    return r
}

/// ReLU, max pool and batch norm backward as three kernels: dx, dweight, dbias.
private func unfusedBackward(_ t: Tail, y: [Float], argmax: [Int32], mean: [Float], invStd: [Float],
                             training: Bool) -> (dx: [Float], dweight: [Float], dbias: [Float]) {
    var dpooled = [Float](repeating: 0, count: t.pooledCount)
    reluBackward(dx: &dpooled, dy: t.dy, y: y, count: y.count)
    var dz = [Float](repeating: 0, count: t.x.count), dx = dz
    maxPool2dBackward(dx: &dz, dy: dpooled, argmax: argmax, batch: t.n, shape: t.pool)
    var dweight = [Float](repeating: 0, count: t.c), dbias = dweight
    batchNormBackward(dx: &dx, dweight: &dweight, dbias: &dbias, dy: dz, x: t.x, weight: t.weight, mean: mean,
                      invStd: invStd, batch: t.n, channels: t.c, spatial: t.h * t.w, batchStatistics: training)
    return (dx, dweight, dbias)
}

@Test(arguments: tailShapes)
func fusedTailForwardEqualsBatchNormPoolReLU(_ shape: [Int]) {
    let t = Tail(shape, key: 100)
    let expected = unfusedForward(t), fused = fusedForward(t)
    #expect(fused.argmax == expected.argmax)
    assertClose(fused.y, expected.y, rtol: 1e-6, atol: 0, "y")
    assertClose(fused.mean, expected.mean, rtol: 1e-6, atol: 0, "mean")
    assertClose(fused.invStd, expected.invStd, rtol: 1e-6, atol: 0, "invStd")
    assertClose(fused.variance, expected.variance, rtol: 1e-6, atol: 0, "unbiased var")
    // `selected` is x at each argmax, in its plane.
    let plane = t.h * t.w, pooled = (t.h / 2) * (t.w / 2)
    let gathered = fused.argmax.enumerated().map { o, at in t.x[(o / pooled) * plane + Int(at)] }
    #expect(fused.selected == gathered)
}

@Test func fusedTailStatisticsFromConvolutionMomentsMatchItsOwn() {
    // A 1x1 conv with weight 1 and bias 0 copies x: its moments describe x exactly.
    let t = Tail([3, 4, 6, 8], key: 200)
    let conv = Conv2DShape(inChannels: t.c, outChannels: t.c, height: t.h, width: t.w, kernel: 1)
    var identity = [Float](repeating: 0, count: t.c * t.c)
    for i in 0..<t.c { identity[i * t.c + i] = 1 }
    var copy = [Float](repeating: 0, count: t.x.count), moments = [Float](repeating: 0, count: 2 * t.n * t.c)
    var scratch = [Float](repeating: 0, count: conv.scratchCount(imagesPerGEMM: 2))
    conv2dForward(y: &copy, x: t.x, weight: identity, bias: nil, batch: t.n, shape: conv, scratch: &scratch,
                  imagesPerGEMM: 2, moments: &moments)
    let own = fusedForward(t), combined = fusedForward(t, moments: moments)
    assertClose(combined.mean, own.mean, rtol: 1e-6, atol: 1e-7, "mean")
    assertClose(combined.invStd, own.invStd, rtol: 1e-5, atol: 0, "invStd")
    assertClose(combined.variance, own.variance, rtol: 1e-5, atol: 0, "unbiased var")
    assertClose(combined.y, own.y, rtol: 1e-5, atol: 1e-6, "y")
}

@Test(arguments: tailShapes)
func fusedTailBackwardEqualsTheThreeBackwardPasses(_ shape: [Int]) {
    let t = Tail(shape, key: 300)
    let f = fusedForward(t)
    let expected = unfusedBackward(t, y: f.y, argmax: f.argmax, mean: f.mean, invStd: f.invStd, training: true)
    var dx = [Float](repeating: 0, count: t.x.count)
    var dweight = [Float](repeating: 0, count: t.c), dbias = dweight
    batchNormPoolReLUBackward(dx: &dx, dweight: &dweight, dbias: &dbias, dy: t.dy, y: f.y, argmax: f.argmax,
                              selected: f.selected, x: t.x, weight: t.weight, mean: f.mean, invStd: f.invStd,
                              batch: t.n, channels: t.c, height: t.h, width: t.w, batchStatistics: true)
    assertClose(dx, expected.dx, "dx")
    assertClose(dweight, expected.dweight, "dweight")
    assertClose(dbias, expected.dbias, "dbias")
}

@Test func fusedTailEvalModeEqualsTheThreeKernels() {
    let t = Tail([2, 3, 7, 5], key: 400)
    let mean = testValues(t.c, key: 401), variance = testValues(t.c, key: 402).map { $0 + 1.5 }
    var invStd = [Float](repeating: 0, count: t.c)
    batchNormInverseStd(invStd: &invStd, variance: variance, channels: t.c, eps: 1e-5)
    var z = [Float](repeating: 0, count: t.x.count)
    batchNormForwardInference(y: &z, x: t.x, weight: t.weight, bias: t.bias, mean: mean, invStd: invStd,
                              batch: t.n, channels: t.c, spatial: t.h * t.w)
    var expectedY = [Float](repeating: 0, count: t.pooledCount), expectedArgmax = [Int32](repeating: 0, count: t.pooledCount)
    maxPool2dForward(y: &expectedY, argmax: &expectedArgmax, x: z, batch: t.n, shape: t.pool)
    reluForward(y: &expectedY, x: expectedY, count: expectedY.count)
    var y = [Float](repeating: 0, count: t.pooledCount), argmax = [Int32](repeating: 0, count: t.pooledCount), selected = y
    batchNormPoolReLUForwardInference(y: &y, argmax: &argmax, selected: &selected, x: t.x, weight: t.weight,
                                      bias: t.bias, mean: mean, invStd: invStd, batch: t.n, channels: t.c,
                                      height: t.h, width: t.w)
    #expect(argmax == expectedArgmax)
    assertClose(y, expectedY, rtol: 1e-6, atol: 0, "eval y")
    let expected = unfusedBackward(t, y: y, argmax: argmax, mean: mean, invStd: invStd, training: false)
    var dx = [Float](repeating: 0, count: t.x.count), dweight = [Float](repeating: 0, count: t.c), dbias = dweight
    batchNormPoolReLUBackward(dx: &dx, dweight: &dweight, dbias: &dbias, dy: t.dy, y: y, argmax: argmax,
                              selected: selected, x: t.x, weight: t.weight, mean: mean, invStd: invStd,
                              batch: t.n, channels: t.c, height: t.h, width: t.w, batchStatistics: false)
    assertClose(dx, expected.dx, "eval dx")
    assertClose(dweight, expected.dweight, "eval dweight")
    assertClose(dbias, expected.dbias, "eval dbias")
}

@Test func fusedTailBackwardInTwoHalvesAndImageBlocksEqualsOnePass() {
    let t = Tail([3, 4, 6, 8], key: 500)
    let f = fusedForward(t)
    var dx = [Float](repeating: 0, count: t.x.count), dweight = [Float](repeating: 0, count: t.c), dbias = dweight
    batchNormPoolReLUBackward(dx: &dx, dweight: &dweight, dbias: &dbias, dy: t.dy, y: f.y, argmax: f.argmax,
                              selected: f.selected, x: t.x, weight: t.weight, mean: f.mean, invStd: f.invStd,
                              batch: t.n, channels: t.c, height: t.h, width: t.w, batchStatistics: true)
    var blockDx = [Float](repeating: .nan, count: t.x.count)
    var blockDweight = [Float](repeating: 0, count: t.c), blockDbias = blockDweight
    var meanDz = [Float](repeating: 0, count: t.c), slope = meanDz
    batchNormPoolReLUBackwardParameters(dweight: &blockDweight, dbias: &blockDbias, meanDz: &meanDz, slope: &slope,
                                        dy: t.dy, y: f.y, selected: f.selected, mean: f.mean, invStd: f.invStd,
                                        batch: t.n, channels: t.c, height: t.h, width: t.w, batchStatistics: true)
    for images in [0..<1, 1..<3] {
        batchNormPoolReLUBackwardInput(dx: &blockDx, dy: t.dy, y: f.y, argmax: f.argmax, x: t.x, weight: t.weight,
                                       mean: f.mean, invStd: f.invStd, meanDz: meanDz, slope: slope, batch: t.n,
                                       images: images, channels: t.c, height: t.h, width: t.w)
    }
    #expect(blockDx == dx)
    #expect(blockDweight == dweight && blockDbias == dbias)
}

// In KernelPathTests' serialized suite: it switches the process's path.
extension KernelPathTests {
    /// The forward pass (CKernels' loom_pool_relu_plane) gives one answer on every path.
    @Test(arguments: tailShapes)
    func fusedTailForwardGivesTheSameBitsOnEveryPath(_ shape: [Int]) {
        let t = Tail(shape, key: 130)
        let results = Self.onEveryPath {
            let r = fusedForward(t)
            return r.y.map(\.bitPattern) + r.argmax.map { UInt32(bitPattern: $0) } + r.selected.map(\.bitPattern)
        }
        Self.expectOneAnswer(results, "fused tail \(shape)", t.n)
    }
}
