// The final evaluation of a checkpoint as one value with class names: what `loom eval
// --json` prints (JSONEncoder, so no `\/` escapes) and what `loom report` draws. Every
// figure is read off LoomTraining's accumulators (`HeadMetrics`, `ConfusionMatrix`,
// `CalibrationBins`); nothing is computed a second time here.

import Foundation
import LoomConfig
import LoomTraining

/// One evaluation of a checkpoint on a split.
public struct EvaluationSummary: Encodable, Sendable {
    public var checkpoint: String
    public var split: String
    public var count: Int
    /// Sum of the heads' weighted losses; nil when no head has a labelled sample.
    public var loss: Double?
    /// Head names in the config's order (`heads` is keyed by name).
    public var headOrder: [String]
    public var heads: [String: HeadSummary]

    enum CodingKeys: String, CodingKey { case checkpoint, split, count, loss, headOrder = "head_order", heads }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(checkpoint, forKey: .checkpoint)
        try c.encode(split, forKey: .split)
        try c.encode(count, forKey: .count)
        try c.encodeOrNull(loss, forKey: .loss)
        try c.encode(headOrder, forKey: .headOrder)
        try c.encode(heads, forKey: .heads)
    }

    /// The summary of `report` (computed with `heads`' class names).
    public init(checkpoint: String, report: EvaluationReport, heads resolved: [ResolvedHead]) {
        self.checkpoint = checkpoint
        split = report.split
        count = report.count
        loss = report.loss.isFinite ? report.loss : nil
        headOrder = report.heads.map(\.name)
        var byName: [String: HeadSummary] = [:]
        for (h, entry) in report.heads.enumerated() {
            let head = resolved.first { $0.name == entry.name }
            byName[entry.name] = HeadSummary(
                kind: head?.kind ?? .softmax, classNames: head?.classNames ?? [], metrics: entry.metrics,
                accumulator: h < report.accumulators.count ? report.accumulators[h] : nil,
                temperature: h < report.temperatures.count ? report.temperatures[h] : 1)
        }
        heads = byName
    }

    /// Pretty-printed JSON with sorted keys; non-finite numbers are null.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain structs of strings, integers and optional finite Doubles cannot fail.
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// One head's evaluation: the flat metrics (`accuracy`, `top5_accuracy`, `map`, ...), and for
/// softmax and binary heads the class-named confusion matrix, per-class figures and the
/// calibration histogram.
public struct HeadSummary: Encodable, Sendable {
    public var kind: HeadConfig.Kind
    /// Class names in the head's class order (binary heads: the two classes).
    public var classes: [String]
    /// name → value, NaN when undefined (a head with nothing labelled).
    public var metrics: [String: Double]
    /// (K, K) counts, true class major, rows and columns in `classes` order.
    public var confusion: ConfusionMatrix?
    public var perClass: [ClassFigures]
    /// (k, value): top-k accuracy (softmax) or recall (multilabel).
    public var topK: [TopK]
    public var calibration: Calibration?

    public struct ClassFigures: Encodable, Sendable {
        public var name: String
        /// Labelled samples of the class.
        public var support: Int
        /// Samples predicted as the class.
        public var predicted: Int
        public var recall: Double?
        public var precision: Double?
        enum CodingKeys: String, CodingKey { case name = "class", support, predicted, recall, precision }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(support, forKey: .support)
            try c.encode(predicted, forKey: .predicted)
            try c.encodeOrNull(recall, forKey: .recall)
            try c.encodeOrNull(precision, forKey: .precision)
        }
    }

    public struct TopK: Encodable, Sendable {
        public var k: Int
        public var value: Double?
        enum CodingKeys: String, CodingKey { case k, value }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(k, forKey: .k)
            try c.encodeOrNull(value, forKey: .value)
        }
    }

    /// The 15-bin confidence histogram of the evaluation, at `temperature`.
    public struct Calibration: Encodable, Sendable {
        public var temperature: Double
        public var ece: Double?
        public var bins: [Bin]
        public struct Bin: Encodable, Sendable {
            public var lower: Double
            public var upper: Double
            public var count: Int
            /// Mean confidence and accuracy of the bin's samples; nil when it is empty.
            public var confidence: Double?
            public var accuracy: Double?
            enum CodingKeys: String, CodingKey { case lower, upper, count, confidence, accuracy }
            public func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(lower, forKey: .lower)
                try c.encode(upper, forKey: .upper)
                try c.encode(count, forKey: .count)
                try c.encodeOrNull(confidence, forKey: .confidence)
                try c.encodeOrNull(accuracy, forKey: .accuracy)
            }
        }
        enum CodingKeys: String, CodingKey { case temperature, ece, bins }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(temperature, forKey: .temperature)
            try c.encodeOrNull(ece, forKey: .ece)
            try c.encode(bins, forKey: .bins)
        }
    }

    public init(kind: HeadConfig.Kind, classNames: [String], metrics: [String: Double], accumulator: HeadMetrics?,
                temperature: Double) {
        self.kind = kind
        self.metrics = metrics
        confusion = accumulator?.confusion.flatMap { ConfusionMatrix(counts: $0) }
        var names = classNames
        let k = confusion?.classes ?? classNames.count
        if names.count != k { names = kind == .binary && k == 2 ? ["0", "1"] : (0..<k).map { "\($0)" } }
        classes = names
        perClass = confusion.map { c in
            (0..<c.classes).map { i in
                ClassFigures(name: names[i], support: c.support(i), predicted: c.predicted(i),
                             recall: c.recall(i), precision: c.precision(i))
            }
        } ?? []
        topK = (accumulator?.topK ?? []).map { TopK(k: $0.k, value: $0.value.isFinite ? $0.value : nil) }
        calibration = accumulator?.calibration.map { bins in
            let b = Double(bins.binCount)
            return Calibration(
                temperature: temperature, ece: bins.ece.isFinite ? bins.ece : nil,
                bins: (0..<bins.binCount).map { i in
                    let n = bins.counts[i]
                    return .init(lower: Double(i) / b, upper: Double(i + 1) / b, count: n,
                                 confidence: n > 0 ? bins.confidenceSums[i] / Double(n) : nil,
                                 accuracy: n > 0 ? Double(bins.correct[i]) / Double(n) : nil)
                })
        }
    }

    /// A metric, NaN when absent or undefined.
    public func metric(_ name: String) -> Double { metrics[name] ?? .nan }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The metrics flat beside `kind`, `classes`, `confusion` (rows of counts), `per_class`,
    /// `top_k` and `calibration`; NaN metrics as null.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (name, value) in metrics {
            if value.isFinite { try c.encode(value, forKey: Key(name)) } else { try c.encodeNil(forKey: Key(name)) }
        }
        try c.encode(kind, forKey: Key("kind"))
        try c.encode(classes, forKey: Key("classes"))
        if let confusion {
            try c.encode(confusion.rows, forKey: Key("confusion"))
            try c.encode(perClass, forKey: Key("per_class"))
        }
        if !topK.isEmpty { try c.encode(topK, forKey: Key("top_k")) }
        if let calibration { try c.encode(calibration, forKey: Key("calibration")) }
    }
}

extension KeyedEncodingContainer {
    /// `value` when it is a finite number, else JSON null (JSON has no NaN; a key that is
    /// sometimes missing is harder to read than one that is null).
    mutating func encodeOrNull(_ value: Double?, forKey key: Key) throws {
        if let value, value.isFinite { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}
