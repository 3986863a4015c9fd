// `HeadMetrics`: one accumulator type for every head kind, so evaluation code can keep a
// list of them (one per head), feed it batches, merge partials and report.

import LoomConfig

/// The metrics accumulator of one head, whatever its kind.
public enum HeadMetrics: Equatable, Sendable {
    case softmax(SoftmaxMetrics)
    case binary(BinaryMetrics)
    case multilabel(MultilabelMetrics)

    /// An empty accumulator for a head of `kind` with `classes` outputs.
    public init(kind: HeadConfig.Kind, classes: Int) {
        switch kind {
        case .softmax: self = .softmax(SoftmaxMetrics(classes: classes))
        case .binary: self = .binary(BinaryMetrics())
        case .multilabel: self = .multilabel(MultilabelMetrics(labels: classes))
        }
    }

    /// Adds `count` rows of logits (N, K). Softmax and binary heads need `.classes` targets,
    /// multilabel heads `.dense` ones; other combinations are an error.
    public mutating func add(logits: UnsafePointer<Float>, targets: HeadTargets, count n: Int) throws(MetricsError) {
        switch (self, targets) {
        case (.softmax(var m), .classes(let y)):
            m.add(logits: logits, labels: y, count: n); self = .softmax(m)
        case (.binary(var m), .classes(let y)):
            m.add(logits: logits, labels: y, count: n); self = .binary(m)
        case (.multilabel(var m), .dense(let t)):
            m.add(logits: logits, targets: t, count: n); self = .multilabel(m)
        default:
            throw MetricsError("\(kindName) metrics cannot take these targets (class labels for softmax/binary, dense for multilabel)")
        }
    }

    /// Merges an accumulator of the same kind and size.
    public mutating func merge(_ other: HeadMetrics) throws(MetricsError) {
        switch (self, other) {
        case (.softmax(var a), .softmax(let b)): try a.merge(b); self = .softmax(a)
        case (.binary(var a), .binary(let b)): try a.merge(b); self = .binary(a)
        case (.multilabel(var a), .multilabel(let b)): try a.merge(b); self = .multilabel(a)
        default: throw MetricsError("cannot merge \(other.kindName) metrics into \(kindName) metrics")
        }
    }

    public var kindName: String {
        switch self {
        case .softmax: return "softmax"
        case .binary: return "binary"
        case .multilabel: return "multilabel"
        }
    }

    public func report() -> [String: Double] {
        switch self {
        case let .softmax(m): return m.report()
        case let .binary(m): return m.report()
        case let .multilabel(m): return m.report()
        }
    }

    /// The confusion matrix (K, K) row-major (true class major); nil for multilabel heads.
    public var confusion: [Int]? {
        switch self {
        case let .softmax(m): return m.confusion
        case let .binary(m): return m.confusion
        case .multilabel: return nil
        }
    }

    /// The confidence histogram behind ECE; nil for multilabel heads (they report no ECE).
    public var calibration: CalibrationBins? {
        switch self {
        case let .softmax(m): return m.calibration
        case let .binary(m): return m.calibration
        case .multilabel: return nil
        }
    }

    /// The top-k figures computed: (k, accuracy) for softmax heads, (k, recall) for
    /// multilabel heads, ascending k; empty for binary heads.
    public var topK: [(k: Int, value: Double)] {
        switch self {
        case let .softmax(m): return m.topK.map { ($0, m.topKAccuracy($0) ?? .nan) }
        case .binary: return []
        case let .multilabel(m): return m.topK.map { ($0, m.topKRecall($0) ?? .nan) }
        }
    }
}
