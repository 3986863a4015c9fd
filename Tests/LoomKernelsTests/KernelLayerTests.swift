// The layer kernels in CKernels (CKernelsLayers.h): SiLU and the logistic on Loom's own
// exponential, the squeeze-and-excitation plane loops, the depthwise convolution and the
// bandwidth probe. Each must give the same bits on every instruction path this host runs,
// and the right values: against the definitions computed in Double.

import CKernels
import Foundation
@testable import LoomKernels
import LoomTestSupport
import Testing

/// Distance between a Float and the exact value, in units of the last place of the value
/// rounded to Float.
private func ulps(_ got: Float, _ exact: Double) -> Double {
    let rounded = Float(exact)
    let ulp = Double(rounded.nextUp) - Double(rounded)
    return abs(Double(got) - exact) / ulp
}

// In KernelPathTests' suite: its tests switch the process's kernel path, so they must not run
// beside the ones that do the same or check which path runs.
extension KernelPathTests {
    @Test func theExponentialIsWithinAFewUlpsOverItsWholeRange() {
        // Every 997th float of [−87, 0] (about 1.1 million of them), and the ends.
        var worst = 0.0, worstAt: Float = 0
        var bits = (-0.0 as Float).bitPattern
        let last = (-87.0 as Float).bitPattern
        while bits <= last {
            let a = Float(bitPattern: bits)
            let e = ulps(loom_exp_nonpositive(a), Foundation.exp(Double(a)))
            if e > worst { (worst, worstAt) = (e, a) }
            bits += 997
        }
        #expect(worst <= 1.5, "exp: \(worst) ulps at \(worstAt)")
        #expect(loom_exp_nonpositive(0) == 1)
        #expect(loom_exp_nonpositive(-0.0) == 1)
        #expect(loom_exp_nonpositive(-88) == 0)
        #expect(loom_exp_nonpositive(-.infinity) == 0)
        #expect(loom_exp_nonpositive(.nan).isNaN)
    }

    @Test func theLogisticIsWithinAFewUlpsAndKeepsItsLimits() {
        var worst = 0.0
        for i in 0...200_000 {
            let x = Float(-87 + 187 * Double(i) / 200_000)
            let exact = 1 / (1 + Foundation.exp(-Double(x)))
            worst = max(worst, ulps(loom_logistic(x), exact))
        }
        #expect(worst <= 3, "logistic: \(worst) ulps")
        #expect(loom_logistic(0) == 0.5)
        #expect(loom_logistic(.infinity) == 1)
        #expect(loom_logistic(-.infinity) == 0)
        #expect(loom_logistic(.nan).isNaN)
    }

    @Test(arguments: lengths) func siluIsTheSameOnEveryPathAndRight(n: Int) {
        var x = Self.values(n, seed: 20).map { $0 * 4 }
        if n > 20 { x[3] = .nan; x[5] = -0.0; x[7] = .infinity; x[9] = -200; x[11] = 120 }
        let dy = Self.values(n, seed: 21)
        let results = Self.onEveryPath {
            var y = [Float](repeating: 7, count: n), dx = dy
            x.withUnsafeBufferPointer { xp in
                guard let xb = xp.baseAddress else { return }
                y.withUnsafeMutableBufferPointer { siluForward(y: $0.baseAddress!, x: xb, count: n) }
                // dx aliases dy, as the layer allows.
                dx.withUnsafeMutableBufferPointer { siluBackward(dx: $0.baseAddress!, dy: $0.baseAddress!, x: xb, count: n) }
            }
            return (y + dx).map(\.bitPattern)
        }
        Self.expectOneAnswer(results, "SiLU", n)
        let out = results[.sse2]!.map { Float(bitPattern: $0) }
        for i in 0..<n where x[i].isFinite && abs(x[i]) < 80 {
            let xd = Double(x[i]), s = 1 / (1 + Foundation.exp(-xd))
            let y = xd * s, dx = Double(dy[i]) * (s * (1 + xd * (1 - s)))
            #expect(abs(Double(out[i]) - y) <= 1e-6 * max(1, abs(y)), "silu(\(x[i]))")
            #expect(abs(Double(out[n + i]) - dx) <= 1e-5 * max(1, abs(dx)), "silu'(\(x[i]))")
        }
        if n > 20 {
            // Any NaN comes out as the one quiet NaN, whichever operands met.
            #expect(out[3].bitPattern == Float.nan.bitPattern && out[n + 3].bitPattern == Float.nan.bitPattern)
            #expect(out[5].bitPattern == (-0.0 as Float).bitPattern)
            #expect(out[7] == .infinity)
            #expect(out[9] == 0 && out[n + 9] == 0)
            #expect(out[11] == 120 && out[n + 11] == dy[11])
        }
    }

    @Test(arguments: lengths) func planeLoopsAreTheSameOnEveryPathAndRight(n: Int) {
        let a = Self.values(n, seed: 22), b = Self.values(n, seed: 23)
        let results = Self.onEveryPath {
            var scaled = [Float](repeating: 7, count: n), copy = [Float](repeating: 7, count: n)
            var triad = [Float](repeating: 7, count: n)
            var dot: Float = 0
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                guard let ab = ap.baseAddress, let bb = bp.baseAddress else { return }
                dot = loom_dot(ab, bb, n)
                scaled.withUnsafeMutableBufferPointer { loom_scale($0.baseAddress!, ab, -0.37, n) }
                copy.withUnsafeMutableBufferPointer { loom_stream_copy($0.baseAddress!, ab, n) }
                triad.withUnsafeMutableBufferPointer { loom_stream_triad($0.baseAddress!, ab, bb, 0.5, n) }
            } }
            return [dot.bitPattern] + (scaled + copy + triad).map(\.bitPattern)
        }
        Self.expectOneAnswer(results, "dot, scale, copy, triad", n)
        let r = results[.sse2]!
        let exact = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let size = zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        #expect(abs(Double(Float(bitPattern: r[0])) - exact) <= 1e-5 * max(1, size))
        #expect(Array(r[1..<(n + 1)]) == a.map { ($0 * -0.37).bitPattern })
        #expect(Array(r[(n + 1)..<(2 * n + 1)]) == a.map(\.bitPattern))
        #expect(Array(r[(2 * n + 1)...]) == zip(a, b).map { ($0 + 0.5 * $1).bitPattern })
    }

    /// (channels, height, width, kernel, stride, padding): strides 1 to 3, kernels 1 to 7,
    /// widths on both sides of 16, padding 0 to 3, and MobileNet-small's 5x5 stride-2 block.
    static let depthwiseShapes: [(Int, Int, Int, Int, Int, Int)] = [
        (3, 9, 10, 3, 1, 1), (3, 9, 10, 5, 2, 2), (6, 5, 5, 3, 2, 0), (4, 28, 28, 3, 1, 1), (5, 28, 28, 3, 2, 1),
        (7, 7, 7, 5, 1, 2), (2, 14, 14, 5, 2, 2), (3, 11, 13, 3, 3, 1), (2, 8, 8, 1, 1, 0), (2, 17, 33, 7, 2, 3),
    ]

    @Test(arguments: depthwiseShapes)
    func depthwiseIsTheSameOnEveryPathAndMatchesTheDefinition(_ g: (Int, Int, Int, Int, Int, Int)) {
        let s = DepthwiseShape(channels: g.0, height: g.1, width: g.2, kernel: g.3, stride: g.4, padding: g.5)
        let n = 3, (c, h, w, k) = (s.channels, s.height, s.width, s.kernel)
        let (oh, ow) = (s.outHeight, s.outWidth)
        let x = testValues(n * c * h * w, key: 700), weight = testValues(c * k * k, key: 701)
        let bias = testValues(c, key: 702), dy = testValues(n * c * oh * ow, key: 703)
        let results = Self.onEveryPath {
            var y = [Float](repeating: 7, count: n * c * oh * ow), dx = [Float](repeating: 7, count: x.count)
            var dweight = [Float](repeating: 0.5, count: weight.count), dbias = [Float](repeating: 0.25, count: c)
            var dweightOnly = [Float](repeating: 0.5, count: weight.count)
            depthwiseForward(y: &y, x: x, weight: weight, bias: bias, batch: n, shape: s)
            depthwiseBackward(dx: &dx, dweight: &dweight, dbias: &dbias, dy: dy, x: x, weight: weight, batch: n, shape: s)
            depthwiseBackward(dx: nil, dweight: &dweightOnly, dbias: nil, dy: dy, x: x, weight: weight, batch: n, shape: s)
            #expect(dweightOnly == dweight, "the weight gradient does not depend on whether dx is wanted")
            return (y + dx + dweight + dbias).map(\.bitPattern)
        }
        Self.expectOneAnswer(results, "depthwise \(g)", x.count)
        Self.expectDepthwiseDefinition(results[.sse2]!.map { Float(bitPattern: $0) }, s, batch: n, x: x, weight: weight,
                                       bias: bias, dy: dy)
    }

    /// Checks y, dx, dweight and dbias (in that order, dweight from 0.5 and dbias from 0.25)
    /// against the depthwise convolution's definition computed in Double; padding reads 0.
    static func expectDepthwiseDefinition(_ got: [Float], _ s: DepthwiseShape, batch n: Int, x: [Float],
                                          weight: [Float], bias: [Float], dy: [Float]) {
        let (c, h, w, k) = (s.channels, s.height, s.width, s.kernel)
        let (oh, ow) = (s.outHeight, s.outWidth)
        var ey = [Double](repeating: 0, count: n * c * oh * ow), edx = [Double](repeating: 0, count: x.count)
        var edw = [Double](repeating: 0.5, count: weight.count), edb = [Double](repeating: 0.25, count: c)
        for i in 0..<n {
            for ch in 0..<c {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let o = ((i * c + ch) * oh + oy) * ow + ox
                        ey[o] = Double(bias[ch])
                        edb[ch] += Double(dy[o])
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let (iy, ix) = (oy * s.stride - s.padding + ky, ox * s.stride - s.padding + kx)
                                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                let xi = ((i * c + ch) * h + iy) * w + ix, t = (ch * k + ky) * k + kx
                                ey[o] += Double(weight[t]) * Double(x[xi])
                                edx[xi] += Double(weight[t]) * Double(dy[o])
                                edw[t] += Double(dy[o]) * Double(x[xi])
                            }
                        }
                    }
                }
            }
        }
        var at = 0
        for (expected, what) in [(ey, "y"), (edx, "dx"), (edw, "dweight"), (edb, "dbias")] {
            assertClose(Array(got[at..<(at + expected.count)]), expected.map { Float($0) }, what)
            at += expected.count
        }
    }

    @Test func theBandwidthProbeAndTheDepthwiseFiguresArePositive() {
        let bandwidth = MemoryBandwidth.measure(seconds: 0, floats: 1 << 16)
        #expect(bandwidth.copy > 0 && bandwidth.triad > 0)
        let s = DepthwiseShape(channels: 4, height: 8, width: 8, kernel: 3, stride: 2, padding: 1)
        let layers = DepthwiseThroughput.measure(shapes: [s], batch: 2, seconds: 0)
        #expect(layers.forward > 0 && layers.backward > 0)
        // x and y (dy, x and dx) per sample, the weights (and their gradient) once per pass.
        #expect(s.forwardBytes(batch: 1) == 4 * (4 * 64 + 4 * 16 + 36))
        #expect(s.backwardBytes(batch: 1) == 4 * (4 * 16 + 2 * 4 * 64 + 72))
        #expect(s.forwardBytes(batch: 32) == 4 * (32 * (4 * 64 + 4 * 16) + 36))
        #expect(s.backwardBytes(batch: 32) == 4 * (32 * (4 * 16 + 2 * 4 * 64) + 72))
    }
}
