// Metrics of a binary (single sigmoid) head.
//
// Binary: p = sigmoid(logit); predicted positive when p >= 0.5 (logit >= 0).
//   accuracy = share of labelled rows predicted right
//   nll      = mean BCE with logits
//   ece      = 15-bin ECE on the confidence max(p, 1 - p) of the predicted class, the same
//              definition as a 2-class softmax
// Labels are 0/1; -1 (not labelled) rows are skipped. With no labelled row every metric but
// `count` is NaN (undefined, not 0).

import Foundation

/// Accumulates the metrics of one binary head.
public struct BinaryMetrics: Equatable, Sendable {
    /// (2, 2) row-major: confusion[label * 2 + predicted].
    public private(set) var confusion: [Int] = [0, 0, 0, 0]
    public private(set) var count: Int = 0
    public private(set) var nllSum: Double = 0
    public private(set) var calibration: CalibrationBins

    public init(bins: Int = 15) { calibration = CalibrationBins(bins: bins) }

    /// Adds `count` logits (N) with labels (N).
    public mutating func add(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count n: Int) {
        for i in 0..<n {
            let y = Int(labels[i])
            guard y == 0 || y == 1 else { continue }
            let x = Double(logits[i])
            let p = StableMath.sigmoid(x)
            let predicted = x >= 0 ? 1 : 0
            confusion[y * 2 + predicted] += 1
            nllSum += Double(1 - y) * x + StableMath.softplusOfNegative(x)
            calibration.add(confidence: max(p, 1 - p), correct: predicted == y)
            count += 1
        }
    }

    public mutating func add(logits: [Float], labels: [Int32]) throws(MetricsError) {
        guard logits.count == labels.count else {
            throw MetricsError("\(logits.count) logits for \(labels.count) binary labels")
        }
        guard !labels.isEmpty else { return }
        logits.withUnsafeBufferPointer { l in labels.withUnsafeBufferPointer { y in
            add(logits: l.baseAddress!, labels: y.baseAddress!, count: labels.count)
        } }
    }

    public mutating func merge(_ other: BinaryMetrics) throws(MetricsError) {
        try calibration.merge(other.calibration)
        for i in 0..<4 { confusion[i] += other.confusion[i] }
        count += other.count
        nllSum += other.nllSum
    }

    public var accuracy: Double { count > 0 ? Double(confusion[0] + confusion[3]) / Double(count) : .nan }
    public var nll: Double { count > 0 ? nllSum / Double(count) : .nan }
    public var ece: Double { calibration.ece }

    /// `accuracy`, `nll`, `ece`, `count`.
    public func report() -> [String: Double] {
        ["accuracy": accuracy, "nll": nll, "ece": ece, "count": Double(count)]
    }
}
