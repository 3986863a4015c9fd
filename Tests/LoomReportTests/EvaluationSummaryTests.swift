// eval --json's content: class-named confusion rows, per-class figures and calibration
// bins read off the accumulators, NaN as null, no escaped slashes.

import Foundation
import Testing
import LoomTraining
@testable import LoomReport

struct EvaluationSummaryTests {
    /// 3 classes, 6 labelled rows: logits put the argmax where `predicted` says.
    static func report(predicted: [Int], labels: [Int32]) throws -> EvaluationReport {
        var m = SoftmaxMetrics(classes: 3, topK: [2])
        let logits = predicted.flatMap { p in (0..<3).map { $0 == p ? Float(2) : Float(0) } }
        try m.add(logits: logits, labels: labels)
        let acc = HeadMetrics.softmax(m)
        return EvaluationReport(split: "test", count: labels.count, heads: [("colour", acc.report())],
                                confusion: [acc.confusion], loss: m.nll, accumulators: [acc], temperatures: [1.5])
    }

    static func decode(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func confusionRowsAndPerClassFiguresCarryClassNames() throws {
        // true: red red red green green blue; predicted: red red green green red blue
        let r = try Self.report(predicted: [0, 0, 1, 1, 0, 2], labels: [0, 0, 0, 1, 1, 2])
        let summary = EvaluationSummary(checkpoint: "runs/a/latest.h5", report: r, heads: [
            ResolvedHead(name: "colour", kind: .softmax, attribute: "colour", classes: 3,
                         classNames: ["red", "green", "blue"], classWeights: nil),
        ])
        let head = try #require(try Self.decode(summary.json())["heads"] as? [String: Any])["colour"] as? [String: Any]
        let h = try #require(head)
        #expect(h["classes"] as? [String] == ["red", "green", "blue"])
        #expect(h["confusion"] as? [[Int]] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]])
        let perClass = try #require(h["per_class"] as? [[String: Any]])
        #expect(perClass.map { $0["class"] as? String } == ["red", "green", "blue"])
        // red: recall 2/3, precision 2/3 (predicted red: 2 red + 1 green); green: recall 1/2, precision 1/2.
        #expect(abs((perClass[0]["recall"] as? Double ?? 0) - 2.0 / 3) < 1e-12)
        #expect(abs((perClass[0]["precision"] as? Double ?? 0) - 2.0 / 3) < 1e-12)
        #expect(perClass[1]["recall"] as? Double == 0.5 && perClass[1]["precision"] as? Double == 0.5)
        #expect(perClass[2]["support"] as? Int == 1 && perClass[2]["predicted"] as? Int == 1)
        let calibration = try #require(h["calibration"] as? [String: Any])
        #expect(calibration["temperature"] as? Double == 1.5)
        let bins = try #require(calibration["bins"] as? [[String: Any]])
        #expect(bins.count == 15)
        #expect(bins.compactMap { $0["count"] as? Int }.reduce(0, +) == 6)
        #expect(bins.contains { $0["accuracy"] is NSNull }, "empty bins have no accuracy")
        let topK = try #require(h["top_k"] as? [[String: Any]])
        #expect(topK.first?["k"] as? Int == 2)
        #expect(h["top2_accuracy"] as? Double == topK.first?["value"] as? Double)
    }

    @Test func slashesAreNotEscapedAndUndefinedMetricsAreNull() throws {
        let empty = try Self.report(predicted: [], labels: [])
        let text = EvaluationSummary(checkpoint: "runs/a/latest.h5", report: empty, heads: []).json()
        #expect(text.contains("\"runs/a/latest.h5\""), "\(text.prefix(200))")
        #expect(!text.contains("\\/"))
        let head = try #require((try Self.decode(text)["heads"] as? [String: Any])?["colour"] as? [String: Any])
        #expect(head["accuracy"] is NSNull && head["nll"] is NSNull, "\(head)")
        #expect(try Self.decode(text)["loss"] is NSNull)
    }
}
