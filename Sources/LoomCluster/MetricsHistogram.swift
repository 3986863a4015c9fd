// A Prometheus histogram: counts of observations at or below fixed upper bounds.

/// Cumulative-bucket histogram of non-negative observations (seconds, for step times).
///
/// Buckets are stored per bound (not cumulative) and summed when rendered, so an
/// observation costs one comparison per bound.
public struct MetricsHistogram: Sendable, Equatable {
    /// Upper bounds, increasing; `+Inf` is implicit.
    public let bounds: [Double]
    /// Observations per bucket: `counts[i]` for `(bounds[i-1], bounds[i]]`, the last for `> bounds.last`.
    public private(set) var counts: [Int]
    public private(set) var sum = 0.0
    public private(set) var count = 0

    /// Step times of a CPU training run: 5 ms (a tiny model) to a minute (a stalled cluster).
    public static let stepDurationBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    /// - Parameter bounds: increasing finite upper bounds (sorted and de-duplicated here).
    public init(bounds: [Double]) {
        self.bounds = Array(Set(bounds.filter { $0.isFinite })).sorted()
        counts = Array(repeating: 0, count: self.bounds.count + 1)
    }

    /// Adds one observation; NaN is ignored (it would poison `sum`).
    public mutating func observe(_ value: Double) {
        guard !value.isNaN else { return }
        let bucket = bounds.firstIndex { value <= $0 } ?? bounds.count
        counts[bucket] += 1
        sum += value
        count += 1
    }

    /// `(le, cumulative count)` pairs, ending with `(+Inf, count)`.
    public var cumulativeBuckets: [(upperBound: Double, count: Int)] {
        var running = 0
        var out: [(upperBound: Double, count: Int)] = []
        for (i, bound) in (bounds + [Double.infinity]).enumerated() {
            running += counts[i]
            out.append((bound, running))
        }
        return out
    }
}
