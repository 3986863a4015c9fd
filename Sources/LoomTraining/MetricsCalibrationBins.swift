// Expected calibration error (Guo et al. 2017) as a mergeable histogram.
//
// Each prediction has a confidence c in [0, 1] (max softmax probability, or max(p, 1-p)
// for a sigmoid output) and is correct or not. Bin b of B = 15 equal-width bins holds
// c in (b/B, (b+1)/B] (c = 0 goes to bin 0). Then
//   ECE = Σ_b (n_b / N) |mean confidence_b - accuracy_b|.
// Counts are integers and sums are Doubles, so histograms of disjoint batches merge by
// adding them.

/// Accumulators that cannot be combined, or inputs of the wrong shape.
public struct MetricsError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "metrics: \(message)" }
}

/// A confidence/accuracy histogram for ECE.
public struct CalibrationBins: Equatable, Sendable {
    /// Samples per bin.
    public private(set) var counts: [Int]
    /// Σ confidence per bin.
    public private(set) var confidenceSums: [Double]
    /// Correct predictions per bin.
    public private(set) var correct: [Int]

    public init(bins: Int = 15) {
        let b = max(bins, 1)
        counts = Array(repeating: 0, count: b)
        confidenceSums = Array(repeating: 0, count: b)
        correct = Array(repeating: 0, count: b)
    }

    public var binCount: Int { counts.count }
    public var total: Int { counts.reduce(0, +) }

    /// The bin of confidence `c`: the b with b/B < c <= (b+1)/B.
    public func bin(of c: Double) -> Int {
        let b = Double(binCount)
        var i = Int((c * b).rounded(.up)) - 1
        // c * B can round across a boundary; settle against the boundaries themselves.
        if i > 0 && c <= Double(i) / b { i -= 1 }
        if i < binCount - 1 && c > Double(i + 1) / b { i += 1 }
        return min(max(i, 0), binCount - 1)
    }

    public mutating func add(confidence c: Double, correct isCorrect: Bool) {
        guard c.isFinite else { return }
        let i = bin(of: c)
        counts[i] += 1
        confidenceSums[i] += c
        if isCorrect { correct[i] += 1 }
    }

    /// Adds another histogram with the same number of bins.
    public mutating func merge(_ other: CalibrationBins) throws(MetricsError) {
        guard other.binCount == binCount else {
            throw MetricsError("cannot merge an ECE histogram of \(other.binCount) bins into one of \(binCount)")
        }
        for i in 0..<binCount {
            counts[i] += other.counts[i]
            confidenceSums[i] += other.confidenceSums[i]
            correct[i] += other.correct[i]
        }
    }

    /// Expected calibration error (NaN when empty: nothing to be calibrated against).
    public var ece: Double {
        let n = Double(total)
        guard n > 0 else { return .nan }
        var e = 0.0
        for i in 0..<binCount where counts[i] > 0 {
            let c = Double(counts[i])
            e += c / n * abs(confidenceSums[i] / c - Double(correct[i]) / c)
        }
        return e
    }
}
