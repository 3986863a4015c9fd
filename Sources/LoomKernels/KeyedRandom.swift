// Deterministic random streams keyed by what they are for, never by who draws them.
//
// ARCHITECTURE.md, invariant 1: every random choice (shuffle, augmentation, dropout, init) is a
// function of (seed, purpose, epoch/step, sample or micro-shard index). A `KeyedRandom`
// is created from such a key tuple; two processes that build the same key get the same
// stream, whatever thread or worker they run on. The generator is SplitMix64 (Steele,
// Lea, Flood 2014) seeded by hashing the key tuple with the same mixing function.

/// What a random stream is used for; part of its key so that streams never collide.
public enum RandomPurpose: UInt64, Sendable {
    case initialisation = 1
    case shuffle = 2
    case augmentation = 3
    case dropout = 4
    case oversampling = 5
    case validationSplit = 6
    case dataset = 7
    /// Which steps the coordinator audits, every block computed twice (`cluster.audit`).
    case audit = 8
}

/// A SplitMix64 stream keyed by (seed, purpose, keys...). A value type: copy it to fork.
public struct KeyedRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64, purpose: RandomPurpose, keys: [UInt64] = []) {
        var s = KeyedRandom.mix(seed &+ 0x9E37_79B9_7F4A_7C15)
        s = KeyedRandom.mix(s ^ (purpose.rawValue &* 0xD1B5_4A32_D192_ED03))
        for k in keys { s = KeyedRandom.mix(s ^ KeyedRandom.mix(k &+ 0x632B_E59B_D9B4_E019)) }
        state = s
    }

    /// Restores a stream from a saved `state` (checkpoints store it).
    public init(state: UInt64) { self.state = state }

    /// The SplitMix64 finaliser: a bijective avalanche of 64 bits.
    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return KeyedRandom.mix(state)
    }

    /// Uniform in [0, 1) with 24 bits of precision (exactly representable as Float).
    @inline(__always)
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    @inline(__always)
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in 0..<n (Lemire's nearly-divisionless method, unbiased).
    public mutating func nextInt(below n: Int) -> Int {
        precondition(n > 0, "nextInt(below:) needs a positive bound")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// Standard normal (Box–Muller, one value per call; deterministic).
    public mutating func nextGaussian() -> Double {
        var u1 = nextDouble()
        while u1 <= 0 { u1 = nextDouble() }
        let u2 = nextDouble()
        return (-2 * _logd(u1)).squareRoot() * _cosd(2 * Double.pi * u2)
    }

    /// Fisher–Yates shuffle with this stream (the same order on every platform).
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { a.swapAt(i, j) }
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _logd(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cosd(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
@inline(__always) private func _logd(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cosd(_ x: Double) -> Double { Foundation.cos(x) }
#endif
