// Metric accumulators on hand-made examples, and merging partial accumulators.

import Foundation
import LoomTraining
import Testing

struct MetricsTests {
    /// Deterministic pseudo-random logits in [-3, 3): (n, k).
    func logits(_ n: Int, _ k: Int, seed: UInt64 = 7) -> [Float] {
        var s = seed
        return (0..<(n * k)).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(s >> 40) / Float(1 << 24) * 6 - 3
        }
    }

    @Test func eceOfHandMadePredictions() throws {
        var m = SoftmaxMetrics(classes: 2, topK: [])
        // Confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.7 (right):
        // bins |0.9 - 0.5| * 2/4 + |0.6 - 1| * 1/4 + |0.7 - 1| * 1/4 = 0.375.
        try m.add(probabilities: [0.9, 0.1, 0.9, 0.1, 0.4, 0.6, 0.7, 0.3], labels: [0, 1, 1, 0])
        #expect(isClose(m.ece, 0.375, rtol: 1e-6))
    }

    @Test func calibrationBinsAreOpenBelowAndClosedAbove() {
        let bins = CalibrationBins(bins: 15)
        #expect(bins.bin(of: 2.0 / 15) == 1)
        #expect(bins.bin(of: 2.0 / 15 + 1e-12) == 2)
        #expect(bins.bin(of: 0) == 0 && bins.bin(of: 1) == 14)
    }

    @Test func balancedAccuracyAveragesRecallOverPresentClasses() throws {
        var m = SoftmaxMetrics(classes: 3, topK: [])
        // Labels (0, 0, 0, 1) predicted (0, 0, 1, 1); class 2 never occurs.
        try m.add(probabilities: [0.8, 0.1, 0.1, 0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.8, 0.1],
                  labels: [0, 0, 0, 1])
        #expect(isClose(m.accuracy, 0.75, rtol: 1e-12))
        #expect(isClose(m.balancedAccuracy, (2.0 / 3 + 1) / 2, rtol: 1e-12))
        #expect(m.perClassRecall[2] == nil)
        #expect(m.confusion == [2, 1, 0, 0, 1, 0, 0, 0, 0])
    }

    @Test func topKAccuracyCountsLabelsRankedWithinK() throws {
        var m = SoftmaxMetrics(classes: 4, topK: [2])
        // Label ranked 2nd, then 3rd.
        try m.add(logits: [3, 2, 1, 0, 3, 2, 1, 0], labels: [1, 2])
        #expect(m.topKAccuracy(2) == 0.5)
        #expect(m.accuracy == 0)
    }

    @Test func unlabelledRowsAreSkipped() throws {
        var m = SoftmaxMetrics(classes: 2, topK: [])
        try m.add(logits: [1, 0, 0, 1], labels: [-1, 1])
        #expect(m.count == 1 && m.accuracy == 1)
    }

    @Test func softmaxAccumulatorsMergedFromTwoHalvesEqualOneAccumulator() throws {
        let z = logits(60, 5)
        let y: [Int32] = (0..<60).map { Int32(($0 * 7) % 5) }
        var whole = SoftmaxMetrics(classes: 5, topK: [2, 3])
        try whole.add(logits: z, labels: y)
        var a = SoftmaxMetrics(classes: 5, topK: [2, 3]), b = a
        try a.add(logits: Array(z[0..<125]), labels: Array(y[0..<25]))
        try b.add(logits: Array(z[125...]), labels: Array(y[25...]))
        try a.merge(b)
        #expect(a.confusion == whole.confusion && a.topKHits == whole.topKHits)
        #expect(a.calibration.counts == whole.calibration.counts)
        for (key, value) in whole.report() { #expect(isClose(a.report()[key] ?? .nan, value, rtol: 1e-12), "\(key)") }
    }

    @Test func mergingAccumulatorsOfDifferentClassCountsIsAnError() {
        var a = SoftmaxMetrics(classes: 3)
        #expect(throws: MetricsError.self) { try a.merge(SoftmaxMetrics(classes: 4)) }
    }

    /// scikit-learn's documented example: average_precision_score([0, 0, 1, 1],
    /// [0.1, 0.4, 0.35, 0.8]) = 0.8333...
    @Test func averagePrecisionMatchesScikitLearnsExample() throws {
        let ap = try #require(averagePrecision(scores: [0.1, 0.4, 0.35, 0.8], positives: [false, false, true, true]))
        #expect(isClose(ap, 5.0 / 6, rtol: 1e-12))
    }

    /// Tied scores form one threshold: [1, 0] tied at 0.5 gives P = 1/2 at R = 1.
    @Test func averagePrecisionTreatsTiedScoresAsOneThreshold() throws {
        let ap = try #require(averagePrecision(scores: [0.5, 0.5], positives: [true, false]))
        #expect(ap == 0.5)
    }

    /// A diverged model's NaN logits rank below every number, all NaNs one threshold:
    /// evaluation reports a value instead of looping on the NaN group for ever.
    @Test func averagePrecisionAndTopKRankNaNScoresLast() throws {
        var ap: Double?
        var m = MultilabelMetrics(labels: 3, topK: [1, 2])
        let finished = finishes(within: 20) {
            // Ranked 0.9 P, 0.2 N, {NaN P, NaN N}: 1/2 * 1 + 0 + 1/2 * 2/4.
            ap = averagePrecision(scores: [0.9, .nan, 0.2, .nan], positives: [true, true, false, false]) ?? -1
            // One row, labels 0 and 1 positive: label 1 (logit 1) ranks first, the NaN last.
            try? m.add(logits: [.nan, 1, -1], targets: [1, 1, 0])
            _ = m.report()
        }
        try #require(finished, "averagePrecision does not return on NaN scores")
        #expect(ap == 0.75)
        #expect(m.topKRecall(1) == 0.5 && m.topKRecall(2) == 0.5)
    }

    /// Runs `body` on its own thread; false when it has not returned after `seconds` (the
    /// thread is then left behind: the test fails instead of hanging).
    func finishes(within seconds: Double, _ body: @escaping () -> Void) -> Bool {
        let done = DispatchSemaphore(value: 0)
        Thread { body(); done.signal() }.start()
        return done.wait(timeout: .now() + seconds) == .success
    }

    @Test func meanAveragePrecisionSkipsLabelsWithoutPositives() throws {
        var m = MultilabelMetrics(labels: 2, topK: [1])
        // Label 0: scores (2, -1, 0), positives (1, 1, 0): ranked P, N, P -> AP = 1/2 * 1 + 1/2 * 2/3.
        // Label 1 is never positive.
        try m.add(logits: [2, 0, -1, 1, 0, 3], targets: [1, 0, 1, 0, 0, 0])
        #expect(m.averagePrecisions[1] == nil)
        #expect(isClose(m.meanAveragePrecision, (1 + 2.0 / 3) / 2, rtol: 1e-12))
        // Top-1 recall: row 0 hits, row 1 ranks label 1 first -> 1 of 2 positives.
        #expect(m.topKRecall(1) == 0.5)
    }

    @Test func multilabelAccumulatorsMergedFromTwoHalvesEqualOneAccumulator() throws {
        let z = logits(40, 4, seed: 3)
        let t: [Float] = (0..<160).map { $0 % 3 == 0 ? 1 : ($0 % 11 == 0 ? .nan : 0) }
        var whole = MultilabelMetrics(labels: 4)
        try whole.add(logits: z, targets: t)
        var a = MultilabelMetrics(labels: 4), b = a
        try a.add(logits: Array(z[0..<80]), targets: Array(t[0..<80]))
        try b.add(logits: Array(z[80...]), targets: Array(t[80...]))
        try a.merge(b)
        #expect(a.scores == whole.scores && a.positives == whole.positives)
        for (key, value) in whole.report() { #expect(isClose(a.report()[key] ?? .nan, value, rtol: 1e-12), "\(key)") }
    }

    @Test func binaryAccuracyThresholdsAtHalf() throws {
        var m = BinaryMetrics()
        try m.add(logits: [2, -1, 0.5, -3, 1], labels: [1, 1, 0, 0, -1])
        #expect(m.count == 4 && m.accuracy == 0.5)
        #expect(m.confusion == [1, 1, 1, 1])
    }

    @Test func headMetricsRejectDenseTargetsForASoftmaxHead() {
        var m = HeadMetrics(kind: .softmax, classes: 3)
        let logits: [Float] = [0, 0, 0], targets: [Float] = [1, 0, 0]
        #expect(throws: MetricsError.self) {
            try logits.withUnsafeBufferPointer { l throws(MetricsError) in
                try targets.withUnsafeBufferPointer { t throws(MetricsError) in
                    try m.add(logits: l.baseAddress!, targets: .dense(t.baseAddress!), count: 1)
                }
            }
        }
    }

    // A head with nothing labelled has no accuracy, loss or mAP: NaN, not 0 (which reads as
    // "always wrong"). `count` stays 0.

    @Test func softmaxMetricsWithNothingLabelledAreNaN() throws {
        var m = SoftmaxMetrics(classes: 6)
        try m.add(logits: logits(3, 6), labels: [-1, -1, -1])
        let r = m.report()
        for key in ["accuracy", "balanced_accuracy", "top5_accuracy", "nll", "ece"] {
            #expect(r[key]?.isNaN == true, "\(key) = \(String(describing: r[key]))")
        }
        #expect(r["count"] == 0)
    }

    @Test func binaryMetricsWithNothingLabelledAreNaN() throws {
        var m = BinaryMetrics()
        try m.add(logits: [2, -1], labels: [-1, -1])
        let r = m.report()
        for key in ["accuracy", "nll", "ece"] { #expect(r[key]?.isNaN == true, "\(key) = \(String(describing: r[key]))") }
        #expect(r["count"] == 0)
    }

    @Test func multilabelMetricsWithNothingLabelledAreNaN() throws {
        var m = MultilabelMetrics(labels: 5)
        try m.add(logits: logits(2, 5), targets: Array(repeating: .nan, count: 10))
        let r = m.report()
        for key in ["map", "top3_recall", "top5_recall", "bce"] {
            #expect(r[key]?.isNaN == true, "\(key) = \(String(describing: r[key]))")
        }
        #expect(r["count"] == 0)
    }

    @Test func aMeanOverHeadsLeavesOutTheHeadsWithoutTheMetric() {
        let report = EvaluationReport(split: "test", count: 4, heads: [("a", ["accuracy": 0.5]), ("b", ["accuracy": .nan]),
                                                                         ("c", ["accuracy": 0.75])],
                                      confusion: [nil, nil, nil], loss: 0)
        #expect(report.mean("accuracy") == 0.625)
        #expect(report.mean("map").isNaN)
        // Over a group of heads, as `loom eval` prints one mean row per table.
        #expect(report.mean("accuracy", over: [0, 1]) == 0.5)
        #expect(report.mean("accuracy", over: [1]).isNaN)
    }
}
