// Audited gradients (docs/CLUSTER.md, "Audited gradients"). Workers of one kernel type
// compute the same bits for the same block (ARCHITECTURE.md, invariant 1), so the
// coordinator can check them: a keyed random share of the steps is audited whole, every
// block of such a step computed a second time by another worker, and any difference in any
// bit is a fault of one of the two. A third computation (another worker, or the coordinator
// itself) names the culprit.
//
// The draw is per step, not per block: every worker of an audited step computes one more
// block, so the step takes about one block longer on every worker alike, and the audit
// costs about its rate in throughput at any worker count (a per-block draw made one worker
// compute an extra block while the others waited, and cost 1 - (1 - a)^W of the steps).
//
// Which steps are audited is a function of (key, step), the key a secret the coordinator
// draws when it starts and never sends: the run's seed is in the config every worker gets,
// so a draw keyed by it alone could be computed by a worker. The copies of an audited step
// go out only to workers that delivered everything else of the step, so a worker has
// answered for its own blocks before anything tells it the step is audited.
//
// The bound check is the fast path for the obvious: a block whose largest gradient per
// micro-shard is far beyond the recent history (3e38 where the history says 1e-2) is
// audited at once, whatever the draw. It only asks for an audit; the audit decides, so an
// honest spike costs one more computation and nothing else.

import LoomKernels
import LoomTraining

enum GradientAudit {
    /// Whether step `step` is audited (every block computed twice) at audit rate `rate`,
    /// with the coordinator's secret `key`.
    static func isStepAudited(key: UInt64, step: Int, rate: Double) -> Bool {
        guard rate > 0 else { return false }
        if rate >= 1 { return true }
        var random = KeyedRandom(seed: key, purpose: .audit, keys: [UInt64(step)])
        return random.nextDouble() < rate
    }

    /// A fresh secret key for the draw, from the system's random source.
    static func secretKey() -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }

    /// Whether two results hold the same bits: gradients, batch statistics, head sums.
    static func sameBits(_ a: ShardResult, _ b: ShardResult) -> Bool {
        a.shardCount == b.shardCount && a.gradients.count == b.gradients.count
            && a.batchStatistics.count == b.batchStatistics.count && a.headSums.count == b.headSums.count
            && a.gradients.withUnsafeBytes { x in b.gradients.withUnsafeBytes { y in x.elementsEqual(y) } }
            && a.batchStatistics.withUnsafeBytes { x in b.batchStatistics.withUnsafeBytes { y in x.elementsEqual(y) } }
            && a.headSums.withUnsafeBytes { x in b.headSums.withUnsafeBytes { y in x.elementsEqual(y) } }
    }

    /// The first gradient element where two results differ (for the log), or nil.
    static func firstDifference(_ a: ShardResult, _ b: ShardResult) -> String {
        for i in 0..<min(a.gradients.count, b.gradients.count) where a.gradients[i].bitPattern != b.gradients[i].bitPattern {
            return "gradient element \(i): \(a.gradients[i]) vs \(b.gradients[i])"
        }
        for i in 0..<min(a.batchStatistics.count, b.batchStatistics.count)
        where a.batchStatistics[i].bitPattern != b.batchStatistics[i].bitPattern {
            return "batch statistic \(i): \(a.batchStatistics[i]) vs \(b.batchStatistics[i])"
        }
        return "loss or metric sums"
    }

    /// The largest |g| of `count` finite floats (results are checked finite before this).
    /// For finite floats the order of |x| is the order of their bits without the sign.
    static func largestMagnitude(_ p: UnsafePointer<Float>, count: Int) -> Float {
        let raw = UnsafeRawPointer(p)
        var wide = SIMD16<UInt32>(repeating: 0)
        let mask = SIMD16<UInt32>(repeating: 0x7FFF_FFFF)
        var i = 0
        while i + 16 <= count {
            wide = pointwiseMax(wide, raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<UInt32>.self) & mask)
            i += 16
        }
        var largest = wide.max()
        while i < count {
            largest = max(largest, p[i].bitPattern & 0x7FFF_FFFF)
            i += 1
        }
        return Float(bitPattern: largest)
    }
}

/// The bound check: per micro-shard, the largest gradient magnitude of recent blocks.
struct GradientBound {
    /// A block this many times beyond the recent median is audited at once.
    static let factor: Float = 1000
    /// Beyond this per micro-shard, a block is audited whatever the history (none yet).
    static let absolute: Float = 1e15
    /// Accepted blocks remembered.
    static let window = 64

    private(set) var recent: [Float] = []

    /// The recent median (nil: fewer than 4 blocks seen).
    var median: Float? {
        guard recent.count >= 4 else { return nil }
        let sorted = recent.sorted()
        return sorted[sorted.count / 2]
    }

    /// Whether a block whose largest magnitude per micro-shard is `value` is out of bounds.
    func isOutOfBounds(_ value: Float) -> Bool {
        if value > Self.absolute { return true }
        guard let median, median > 0 else { return false }
        return value > Self.factor * median
    }

    /// An accepted block's largest magnitude per micro-shard.
    mutating func record(_ value: Float) {
        recent.append(value)
        if recent.count > Self.window { recent.removeFirst(recent.count - Self.window) }
    }
}
