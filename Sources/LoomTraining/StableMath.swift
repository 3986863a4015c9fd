// The one copy of the numerically stable functions the losses, metrics, calibration and
// prediction share, in Double: log-softmax, softmax, sigmoid and softplus. Each subtracts
// the row maximum (or branches on the sign) so that no exp overflows.

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

public enum StableMath {
    /// log-softmax of `z[0..<k]` into `logp[0..<k]`: z_j − m − log Σ exp(z_i − m), m = max z.
    @inline(__always)
    public static func logSoftmax(_ z: UnsafePointer<Float>, _ k: Int, into logp: inout [Double]) {
        var m = -Double.infinity
        for j in 0..<k { m = max(m, Double(z[j])) }
        var s = 0.0
        for j in 0..<k { s += exp(Double(z[j]) - m) }
        let lse = m + log(s)
        for j in 0..<k { logp[j] = Double(z[j]) - lse }
    }

    /// softmax of `z` (any length ≥ 1).
    public static func softmax(_ z: [Double]) -> [Double] {
        let m = z.max() ?? 0
        let e = z.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// 1 / (1 + e^-x), without overflow for any x.
    @inline(__always)
    public static func sigmoid(_ x: Double) -> Double {
        x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
    }

    /// log(1 + e^-x), stable for any x: the binary cross-entropy of logit x for target 1.
    @inline(__always)
    public static func softplusOfNegative(_ x: Double) -> Double { log1p(exp(-abs(x))) + max(-x, 0) }
}
