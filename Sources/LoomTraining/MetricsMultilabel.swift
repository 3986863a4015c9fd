// Metrics of a multilabel (K independent sigmoids) head.
//
// Average precision needs every score, so this accumulator keeps (score, positive) per
// label; merging appends, in the order the caller merges (keep it fixed for reproducible
// tie handling — AP itself does not depend on the order of rows).
//
//   AP_k  = Σ_n (R_n - R_{n-1}) P_n over the distinct score thresholds, descending
//           (scikit-learn's average_precision_score), for labels with ≥ 1 positive
//   mAP   = mean AP_k over those labels
//   top-k recall = Σ_rows |top-k scored labels ∩ positives| / Σ_rows |positives|
//           (micro-averaged; rows with any unlabelled (NaN) element are skipped)
//   bce   = mean BCE with logits over labelled elements
// Targets are 0/1 (> 0.5 counts as positive); NaN = not labelled. A NaN score (a diverged
// model) ranks below every number, all NaN scores one tied threshold. A metric with nothing
// to average over is NaN (undefined, not 0): mAP without a label that has a positive,
// top-k recall without a positive in a complete row, bce without a labelled element (so all
// three when nothing is labelled).

import Foundation

/// Accumulates the metrics of one multilabel head.
public struct MultilabelMetrics: Equatable, Sendable {
    public let labels: Int
    public let topK: [Int]
    /// Per label: scores (logits: monotone in the probability, without its saturation
    /// ties) of labelled rows, in arrival order.
    public private(set) var scores: [[Float]]
    /// Per label: whether each of those rows is positive.
    public private(set) var positives: [[Bool]]
    public private(set) var bceSum: Double = 0
    public private(set) var elements: Int = 0
    public private(set) var topKHits: [Int]
    public private(set) var topKPositives: Int = 0

    public init(labels: Int, topK: [Int] = [3, 5]) {
        self.labels = max(labels, 1)
        self.topK = topK.filter { $0 >= 1 && $0 <= labels }
        scores = Array(repeating: [], count: self.labels)
        positives = Array(repeating: [], count: self.labels)
        topKHits = Array(repeating: 0, count: self.topK.count)
    }

    /// Adds `count` rows of logits (N, K) with targets (N, K).
    public mutating func add(logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, count n: Int) {
        let k = labels
        var order = [Int](repeating: 0, count: k)
        for i in 0..<n {
            var complete = true
            var rowPositives = 0
            for j in 0..<k {
                let t = targets[i * k + j]
                guard !t.isNaN else { complete = false; continue }
                let x = Double(logits[i * k + j]), y = Double(t)
                scores[j].append(logits[i * k + j])
                positives[j].append(t > 0.5)
                if t > 0.5 { rowPositives += 1 }
                bceSum += (1 - y) * x + StableMath.softplusOfNegative(x)
                elements += 1
            }
            guard complete, rowPositives > 0, !topK.isEmpty else { continue }
            // Stable order by descending logit, ties broken by label index.
            for j in 0..<k { order[j] = j }
            let row = logits + i * k
            order.sort { ranksAbove(row[$0], row[$1]) || (!ranksAbove(row[$1], row[$0]) && $0 < $1) }
            for (t, kk) in topK.enumerated() {
                for r in 0..<kk where targets[i * k + order[r]] > 0.5 { topKHits[t] += 1 }
            }
            topKPositives += rowPositives
        }
    }

    /// Array form: logits and targets (N, K).
    public mutating func add(logits: [Float], targets: [Float]) throws(MetricsError) {
        guard logits.count == targets.count, logits.count % labels == 0 else {
            throw MetricsError("\(logits.count) logits and \(targets.count) targets for \(labels) labels")
        }
        guard !logits.isEmpty else { return }
        logits.withUnsafeBufferPointer { l in targets.withUnsafeBufferPointer { t in
            add(logits: l.baseAddress!, targets: t.baseAddress!, count: logits.count / labels)
        } }
    }

    /// Appends `other`'s rows after this accumulator's rows.
    public mutating func merge(_ other: MultilabelMetrics) throws(MetricsError) {
        guard other.labels == labels, other.topK == topK else {
            throw MetricsError("cannot merge multilabel metrics of \(other.labels) labels into \(labels)")
        }
        for j in 0..<labels {
            scores[j].append(contentsOf: other.scores[j])
            positives[j].append(contentsOf: other.positives[j])
        }
        bceSum += other.bceSum
        elements += other.elements
        for t in topKHits.indices { topKHits[t] += other.topKHits[t] }
        topKPositives += other.topKPositives
    }

    /// AP per label; nil for labels without a positive.
    public var averagePrecisions: [Double?] {
        (0..<labels).map { averagePrecision(scores: scores[$0], positives: positives[$0]) }
    }

    public var meanAveragePrecision: Double {
        let aps = averagePrecisions.compactMap { $0 }
        return aps.isEmpty ? .nan : aps.reduce(0, +) / Double(aps.count)
    }

    public func topKRecall(_ k: Int) -> Double? {
        guard let t = topK.firstIndex(of: k) else { return nil }
        return topKPositives > 0 ? Double(topKHits[t]) / Double(topKPositives) : .nan
    }

    public var bce: Double { elements > 0 ? bceSum / Double(elements) : .nan }

    /// `map`, `top<k>_recall`, `bce`, `count` (labelled elements).
    public func report() -> [String: Double] {
        var r: [String: Double] = ["map": meanAveragePrecision, "bce": bce, "count": Double(elements)]
        for k in topK { r["top\(k)_recall"] = topKRecall(k) }
        return r
    }
}

/// scikit-learn's average_precision_score for one label: Σ_n (R_n - R_{n-1}) P_n with one
/// operating point per distinct score (descending). nil when there is no positive.
public func averagePrecision(scores: [Float], positives: [Bool]) -> Double? {
    let total = positives.reduce(0) { $0 + ($1 ? 1 : 0) }
    guard total > 0, scores.count == positives.count else { return nil }
    let order = scores.indices.sorted { ranksAbove(scores[$0], scores[$1]) }
    var tp = 0, fp = 0, ap = 0.0, previousRecall = 0.0
    var r = 0
    while r < order.count {
        // Consume a whole group of tied scores: one threshold (NaN ties with NaN).
        let s = scores[order[r]]
        while r < order.count && (scores[order[r]] == s || (s.isNaN && scores[order[r]].isNaN)) {
            if positives[order[r]] { tp += 1 } else { fp += 1 }
            r += 1
        }
        let recall = Double(tp) / Double(total)
        ap += (recall - previousRecall) * Double(tp) / Double(tp + fp)
        previousRecall = recall
    }
    return ap
}

/// Score order, highest first, with NaN below every number: a strict weak order (`>` alone
/// is not one when a score is NaN).
@inline(__always)
private func ranksAbove(_ a: Float, _ b: Float) -> Bool {
    a > b || (b.isNaN && !a.isNaN)
}
