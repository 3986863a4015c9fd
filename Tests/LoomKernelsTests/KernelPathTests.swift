// Loom's own kernels on every instruction path this host runs (SSE2, AVX2, AVX-512): each
// path must return the same bits as the others (16-lane vectors whatever the registers,
// one order of the final sums, no fused multiply-add), and the right values.

import CKernels
import Foundation
@testable import LoomKernels
import LoomTestSupport
import Testing

@Suite(.serialized) struct KernelPathTests {
    /// Lengths around the 16-lane loop and its tail.
    static let lengths = [0, 1, 15, 16, 17, 31, 32, 33, 100, 1000, 4099]

    /// Values of mixed sign and magnitude whose sums round.
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var random = KeyedRandom(seed: seed, purpose: .dataset, keys: [UInt64(n)])
        return (0..<n).map { _ in (random.nextFloat() - 0.4) * (random.nextFloat() < 0.1 ? 1000 : 3) }
    }

    /// `body` run on every path this CPU has, as bit patterns; the path is restored after.
    static func onEveryPath(_ body: () -> [UInt32]) -> [KernelPath: [UInt32]] {
        let saved = KernelPath.current
        defer { try? KernelPath.use(saved) }
        var out: [KernelPath: [UInt32]] = [:]
        for path in KernelPath.runnable(on: .current) {
            try! KernelPath.use(path)
            out[path] = body()
        }
        return out
    }

    static func expectOneAnswer(_ results: [KernelPath: [UInt32]], _ what: String, _ n: Int) {
        let reference = results[.sse2]!
        for (path, bits) in results where path != .sse2 {
            #expect(bits == reference, "\(what), n = \(n): \(path.rawValue) differs from sse2")
        }
    }

    @Test func theHostRunsAtLeastBaselineAndItsWidestPathByDefault() {
        let runnable = KernelPath.runnable(on: .current)
        #expect(runnable.first == .sse2)
        #expect(KernelPath.best(for: .current) == runnable.last)
        // CKernels starts every process on the widest path (a matrix child on the one it asked for).
        KernelRequest.applied
        #expect(KernelPath.current == (KernelRequest.path ?? KernelPath.best(for: .current)))
    }

    @Test func aPathTheCPULacksIsRefused() {
        let sseOnly = CPUInfo(vendor: "GenuineIntel", family: 6, features: [.sse3])
        #expect(throws: KernelPathError.self) { try KernelPath.use(.avx2, cpu: sseOnly) }
        #expect(throws: KernelPathError.self) { try KernelPath.use(.avx512, cpu: sseOnly) }
    }

    @Test(arguments: lengths) func reductionsAreTheSameOnEveryPathAndRight(n: Int) {
        let p = Self.values(n, seed: 1), q = Self.values(n, seed: 2)
        let results = Self.onEveryPath {
            p.withUnsafeBufferPointer { a in q.withUnsafeBufferPointer { b in
                let base = a.baseAddress ?? UnsafePointer(bitPattern: 16)!, other = b.baseAddress ?? UnsafePointer(bitPattern: 16)!
                let (s, d) = vectorSumAndCentredDot(base, other, shift: 0.25, n)
                let moments = planeMoments(base, n)
                return [vectorSum(base, n), s, d, vectorCentredSquares(base, shift: -0.5, n), moments.mean, moments.squares]
                    .map(\.bitPattern)
            } }
        }
        Self.expectOneAnswer(results, "sums", n)
        let sum = p.reduce(0.0) { $0 + Double($1) }
        let got = Float(bitPattern: results[.sse2]![0])
        #expect(abs(Double(got) - sum) <= 1e-5 * max(1, p.reduce(0.0) { $0 + abs(Double($1)) }))
    }

    @Test(arguments: lengths) func elementwiseKernelsAreTheSameOnEveryPathAndRight(n: Int) {
        var x = Self.values(n, seed: 3)
        if n > 20 { x[3] = .nan; x[17] = -0.0; x[19] = 0 }
        let dy = Self.values(n, seed: 4)
        let results = Self.onEveryPath {
            var relu = [Float](repeating: 7, count: n), back = [Float](repeating: 7, count: n)
            var affine = [Float](repeating: 7, count: n), added = dy, signed = [Float](repeating: 7, count: n)
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { gp in
                guard let xb = xp.baseAddress, let gb = gp.baseAddress else { return }
                relu.withUnsafeMutableBufferPointer { reluForward(y: $0.baseAddress!, x: xb, count: n) }
                relu.withUnsafeBufferPointer { r in
                    back.withUnsafeMutableBufferPointer { reluBackward(dx: $0.baseAddress!, dy: gb, y: r.baseAddress!, count: n) }
                }
                affine.withUnsafeMutableBufferPointer { vectorAffine($0.baseAddress!, xb, scale: 1.3, shift: -0.7, n) }
                // A shift of −0 must stay −0 in every lane: −0 + −0 is −0, −0 + +0 is +0.
                signed.withUnsafeMutableBufferPointer { vectorAffine($0.baseAddress!, xb, scale: 1, shift: -0.0, n) }
                added.withUnsafeMutableBufferPointer { vectorAdd($0.baseAddress!, xb, n) }
            } }
            return (relu + back + affine + added + signed).map(\.bitPattern)
        }
        Self.expectOneAnswer(results, "elementwise", n)
        // The values, element by element, as the scalar definitions give them.
        let relu = x.map { $0 <= 0 ? 0 : $0 }
        let back = zip(relu, dy).map { $0 <= 0 ? 0 : $1 }
        let affine = x.map { $0 * 1.3 + -0.7 }
        let added = zip(dy, x).map { $0 + $1 }
        let signed = x.map { $0 * 1 + -0.0 }
        #expect(results[.sse2]! == (relu + back + affine + added + signed).map(\.bitPattern))
    }

    @Test(arguments: lengths) func finiteChecksAndGradientSumsAreTheSameOnEveryPath(n: Int) {
        let a = Self.values(n, seed: 5), b = Self.values(n, seed: 6)
        var poisoned = a
        if n > 0 { poisoned[n - 1] = .infinity }
        let results = Self.onEveryPath {
            var out = [Float](repeating: .nan, count: n)
            let finite = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { o -> Bool in
                    guard let x = pa.baseAddress, let y = pb.baseAddress else { return true }
                    return elementwiseSum(x, y, into: o.baseAddress!, count: n)
                }
            } }
            let clean = firstNonFinite(a), bad = firstNonFinite(poisoned)
            return out.map(\.bitPattern) + [finite ? 1 : 0, UInt32(clean ?? 99_999), UInt32(bad ?? 99_999)]
        }
        Self.expectOneAnswer(results, "sums and finite checks", n)
        let r = results[.sse2]!
        #expect(Array(r.prefix(n)) == zip(a, b).map { ($0 + $1).bitPattern })
        #expect(r[n] == 1 && r[n + 1] == 99_999)
        #expect(r[n + 2] == (n > 0 ? UInt32(n - 1) : 99_999))
    }

    @Test(arguments: lengths) func momentumSGDIsTheSameOnEveryPathAndTheElementLoop(n: Int) {
        let w0 = Self.values(n, seed: 7), g = Self.values(n, seed: 8), b0 = Self.values(n, seed: 9)
        let (lr, wd, mu, keep): (Float, Float, Float, Float) = (0.05, 5e-4, 0.9, 1)
        let results = Self.onEveryPath {
            var w = w0, b = b0
            w.withUnsafeMutableBufferPointer { wp in b.withUnsafeMutableBufferPointer { bp in g.withUnsafeBufferPointer { gp in
                guard let wb = wp.baseAddress else { return }
                sgdMomentumStep(weights: wb, gradients: gp.baseAddress!, momentumBuffer: bp.baseAddress!, count: n,
                                lr: lr, weightDecay: wd, momentum: mu, keep: keep)
            } } }
            return (w + b).map(\.bitPattern)
        }
        Self.expectOneAnswer(results, "momentum SGD", n)
        var w = w0, b = b0
        for i in 0..<n {
            let d = g[i] + wd * w[i]
            b[i] = mu * b[i] + keep * d
            w[i] -= lr * b[i]
        }
        #expect(results[.sse2]! == (w + b).map(\.bitPattern))
    }

    @Test(arguments: lengths) func batchNormBackwardKernelsAreTheSameOnEveryPathAndRight(n: Int) {
        let g = Self.values(n, seed: 10), v = Self.values(n, seed: 11), p = Self.values(n, seed: 12)
        let results = Self.onEveryPath {
            var d1 = [Float](repeating: 7, count: n), d2 = [Float](repeating: 7, count: n)
            var sum: Float = 0, dot: Float = 0
            g.withUnsafeBufferPointer { gp in v.withUnsafeBufferPointer { vp in p.withUnsafeBufferPointer { pp in
                guard let gb = gp.baseAddress, let vb = vp.baseAddress, let pb = pp.baseAddress else { return }
                loom_gated_sum_and_centred_dot(gb, vb, pb, 0.3, n, &sum, &dot)
                d1.withUnsafeMutableBufferPointer { loom_centred_affine($0.baseAddress!, pb, 0.3, -1.7, 0.25, n) }
                d2.withUnsafeMutableBufferPointer { loom_scaled_plus_centred_affine($0.baseAddress!, gb, 0.9, pb, 0.3, -1.7, 0.25, n) }
            } } }
            return [sum.bitPattern, dot.bitPattern] + (d1 + d2).map(\.bitPattern)
        }
        Self.expectOneAnswer(results, "batch-norm backward", n)
        let r = results[.sse2]!
        let gates = zip(g, v).map { $1 > 0 ? $0 : 0 }
        let sum = gates.reduce(0.0) { $0 + Double($1) }
        #expect(abs(Double(Float(bitPattern: r[0])) - sum) <= 1e-4 * max(1, gates.reduce(0.0) { $0 + abs(Double($1)) }))
        #expect(Array(r[2..<(2 + n)]) == p.map { ($0 - 0.3) * -1.7 + 0.25 }.map(\.bitPattern))
        #expect(Array(r[(2 + n)...]) == zip(g, p).map { $0 * 0.9 + ($1 - 0.3) * -1.7 + 0.25 }.map(\.bitPattern))
    }

    @Test(arguments: [0, 1, 17, 1000], [false, true])
    func adamIsTheSameOnEveryPathAndTheElementLoop(n: Int, decoupled: Bool) {
        let w0 = Self.values(n, seed: 13), g = Self.values(n, seed: 14)
        let m0 = Self.values(n, seed: 15), v0 = Self.values(n, seed: 16).map { $0 * $0 }
        let (decay, wd, b1c, b2, b2c, b2s, eps, step): (Float, Float, Float, Float, Float, Float, Float, Float) =
            (0.9995, 0.01, 0.1, 0.999, 0.001, 0.0447, 1e-8, 0.0031)
        let results = Self.onEveryPath {
            var w = w0, m = m0, v = v0
            w.withUnsafeMutableBufferPointer { wp in m.withUnsafeMutableBufferPointer { mp in v.withUnsafeMutableBufferPointer { vp in
                g.withUnsafeBufferPointer { gp in
                    guard let wb = wp.baseAddress else { return }
                    adamStep(weights: wb, gradients: gp.baseAddress!, mean: mp.baseAddress!, square: vp.baseAddress!, count: n,
                             decay: decay, weightDecay: wd, oneMinusBeta1: b1c, beta2: b2, oneMinusBeta2: b2c, bias2Sqrt: b2s,
                             eps: eps, stepSize: step, decoupled: decoupled, l2: !decoupled)
                }
            } } }
            return (w + m + v).map(\.bitPattern)
        }
        Self.expectOneAnswer(results, "Adam", n)
        var w = w0, m = m0, v = v0
        for i in 0..<n {
            var grad = g[i]
            if decoupled { w[i] *= decay } else { grad += wd * w[i] }
            m[i] += b1c * (grad - m[i])
            v[i] = b2 * v[i] + b2c * grad * grad
            let denom = v[i].squareRoot() / b2s + eps
            w[i] -= step * (m[i] / denom)
        }
        #expect(results[.sse2]! == (w + m + v).map(\.bitPattern))
    }
}
