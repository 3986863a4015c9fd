// Metrics of a softmax head, accumulated batch by batch and mergeable.
//
// Everything is kept as counts (confusion matrix, top-k hits, ECE histogram) plus one
// Double sum (NLL), so evaluation can be split over micro-shards or workers and the
// partial accumulators merged in a fixed order. Rows labelled -1 are skipped.
//
//   accuracy           = Σ_c C[c][c] / N
//   balanced accuracy  = mean over classes with ≥ 1 sample of recall_c = C[c][c] / Σ_j C[c][j]
//                        (scikit-learn's balanced_accuracy_score)
//   top-k accuracy     = share of rows whose label has fewer than k classes scored strictly
//                        higher (ties count in the label's favour)
//   nll                = mean of -log p_y
//   ece                = 15-bin ECE on max softmax probability (see CalibrationBins)
// With no labelled row every metric but `count` is NaN (undefined, not 0).

import Foundation

/// Accumulates the metrics of one softmax head.
public struct SoftmaxMetrics: Equatable, Sendable {
    public let classes: Int
    /// The k of each top-k accuracy reported (k < classes are kept).
    public let topK: [Int]
    /// (K, K) row-major: confusion[trueClass * K + predicted].
    public private(set) var confusion: [Int]
    /// Labelled rows seen.
    public private(set) var count: Int = 0
    /// Σ -log p_y.
    public private(set) var nllSum: Double = 0
    /// Hits for each entry of `topK`.
    public private(set) var topKHits: [Int]
    public private(set) var calibration: CalibrationBins

    public init(classes: Int, topK: [Int] = [5], bins: Int = 15) {
        self.classes = max(classes, 1)
        self.topK = topK.filter { $0 >= 1 && $0 < classes }
        confusion = Array(repeating: 0, count: self.classes * self.classes)
        topKHits = Array(repeating: 0, count: self.topK.count)
        calibration = CalibrationBins(bins: bins)
    }

    /// Adds `count` rows of logits (N, K) with labels (N).
    public mutating func add(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count n: Int) {
        let k = classes
        addRows(n, labels) { i, logp in StableMath.logSoftmax(logits + i * k, k, into: &logp) }
    }

    /// Adds `count` rows of probabilities (N, K) with labels (N).
    public mutating func add(probabilities: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count n: Int) {
        let k = classes
        addRows(n, labels) { i, logp in
            for j in 0..<k { logp[j] = log(max(Double(probabilities[i * k + j]), Double.leastNormalMagnitude)) }
        }
    }

    /// Array form of `add(logits:labels:count:)`.
    public mutating func add(logits: [Float], labels: [Int32]) throws(MetricsError) {
        guard logits.count == labels.count * classes else {
            throw MetricsError("\(logits.count) logits for \(labels.count) labels of \(classes) classes")
        }
        guard !labels.isEmpty else { return }
        logits.withUnsafeBufferPointer { l in labels.withUnsafeBufferPointer { y in
            add(logits: l.baseAddress!, labels: y.baseAddress!, count: labels.count)
        } }
    }

    /// Array form of `add(probabilities:labels:count:)`.
    public mutating func add(probabilities: [Float], labels: [Int32]) throws(MetricsError) {
        guard probabilities.count == labels.count * classes else {
            throw MetricsError("\(probabilities.count) probabilities for \(labels.count) labels of \(classes) classes")
        }
        guard !labels.isEmpty else { return }
        probabilities.withUnsafeBufferPointer { p in labels.withUnsafeBufferPointer { y in
            add(probabilities: p.baseAddress!, labels: y.baseAddress!, count: labels.count)
        } }
    }

    private mutating func addRows(_ n: Int, _ labels: UnsafePointer<Int32>,
                                  _ logSoftmax: (Int, inout [Double]) -> Void) {
        var logp = [Double](repeating: 0, count: classes)
        for i in 0..<n {
            let y = Int(labels[i])
            guard y >= 0 && y < classes else { continue }
            logSoftmax(i, &logp)
            var best = 0
            for j in 1..<max(classes, 1) where logp[j] > logp[best] { best = j }
            confusion[y * classes + best] += 1
            var higher = 0
            for j in 0..<classes where logp[j] > logp[y] { higher += 1 }
            for (t, k) in topK.enumerated() where higher < k { topKHits[t] += 1 }
            nllSum -= logp[y]
            calibration.add(confidence: exp(logp[best]), correct: best == y)
            count += 1
        }
    }

    /// Adds the counts of `other` (same classes and top-k list).
    public mutating func merge(_ other: SoftmaxMetrics) throws(MetricsError) {
        guard other.classes == classes, other.topK == topK else {
            throw MetricsError("cannot merge softmax metrics of \(other.classes) classes (top-k \(other.topK)) into \(classes) classes (top-k \(topK))")
        }
        try calibration.merge(other.calibration)
        for i in confusion.indices { confusion[i] += other.confusion[i] }
        for i in topKHits.indices { topKHits[i] += other.topKHits[i] }
        count += other.count
        nllSum += other.nllSum
    }

    public var accuracy: Double {
        guard count > 0 else { return .nan }
        var hits = 0
        for c in 0..<classes { hits += confusion[c * classes + c] }
        return Double(hits) / Double(count)
    }

    /// Recall per class (K); nil for classes with no labelled sample.
    public var perClassRecall: [Double?] {
        (0..<classes).map { c in
            let row = confusion[(c * classes)..<((c + 1) * classes)].reduce(0, +)
            return row > 0 ? Double(confusion[c * classes + c]) / Double(row) : nil
        }
    }

    public var balancedAccuracy: Double {
        let present = perClassRecall.compactMap { $0 }
        return present.isEmpty ? .nan : present.reduce(0, +) / Double(present.count)
    }

    public var nll: Double { count > 0 ? nllSum / Double(count) : .nan }
    public var ece: Double { calibration.ece }

    /// Top-k accuracy for a k in `topK`, nil otherwise.
    public func topKAccuracy(_ k: Int) -> Double? {
        guard let t = topK.firstIndex(of: k) else { return nil }
        return count > 0 ? Double(topKHits[t]) / Double(count) : .nan
    }

    /// `accuracy`, `balanced_accuracy`, `top<k>_accuracy`, `nll`, `ece`, `count`.
    public func report() -> [String: Double] {
        var r: [String: Double] = [
            "accuracy": accuracy, "balanced_accuracy": balancedAccuracy,
            "nll": nll, "ece": ece, "count": Double(count),
        ]
        for k in topK { r["top\(k)_accuracy"] = topKAccuracy(k) }
        return r
    }
}
