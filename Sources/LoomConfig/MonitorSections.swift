// `training.early_stopping`, `checkpoint.keep_best`, `training.freeze`: what a run watches on
// the validation split, and which layers it holds still. A watched metric is named as its
// column in metrics.csv (docs/CONFIG.md, "Validation metrics").

/// Which way a metric improves.
public enum MetricMode: String, Sendable, CaseIterable {
    case min, max
}

/// A metric of the validation split, named as its metrics.csv column:
/// `val_loss` (the weighted sum over heads), `val_<quantity>/<head>` or `val_<quantity>/mean`
/// (the mean over the heads that have it).
public struct ValidationMetric: Equatable, Sendable, CustomStringConvertible {
    public enum Quantity: String, Sendable, CaseIterable {
        /// A head's own loss: NLL (softmax, binary heads) or BCE (multilabel heads).
        case loss
        case accuracy
        case balancedAccuracy = "balanced_accuracy"
        /// Mean average precision (multilabel heads).
        case map

        /// Whether a head of `kind` reports this quantity.
        public func applies(to kind: HeadConfig.Kind) -> Bool {
            switch self {
            case .loss: return true
            case .accuracy: return kind != .multilabel
            case .balancedAccuracy: return kind == .softmax
            case .map: return kind == .multilabel
            }
        }
    }

    public enum Scope: Equatable, Sendable {
        /// `val_loss`: the sum over heads of loss weight x loss (the run's validation loss).
        case total
        /// One head's own value: `val_accuracy/category`.
        case head(String)
        /// The mean over the heads where the quantity is defined: `val_accuracy/mean`.
        case mean
    }

    public var quantity: Quantity
    public var scope: Scope

    public init(_ quantity: Quantity, _ scope: Scope) {
        self.quantity = quantity; self.scope = scope
    }

    /// The metrics.csv column: `val_loss`, `val_accuracy/category`, `val_loss/mean`.
    public var column: String {
        switch scope {
        case .total: return "val_\(quantity.rawValue)"
        case .head(let name): return "val_\(quantity.rawValue)/\(name)"
        case .mean: return "val_\(quantity.rawValue)/mean"
        }
    }

    public var description: String { column }

    /// Losses improve downwards, the others upwards.
    public var naturalMode: MetricMode { quantity == .loss ? .min : .max }

    /// Reads a column name; the error completes "must be ...".
    static func parse(_ text: String) -> Result<ValidationMetric, MetricNameError> {
        guard text.hasPrefix("val_") else { return .failure(.notValidation) }
        let rest = text.dropFirst(4)
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let quantity = Quantity(rawValue: String(parts[0])) else { return .failure(.unknownQuantity(String(parts[0]))) }
        guard parts.count == 2 else {
            return quantity == .loss ? .success(ValidationMetric(.loss, .total)) : .failure(.needsScope(quantity))
        }
        let who = String(parts[1])
        guard !who.isEmpty else { return .failure(.needsScope(quantity)) }
        return .success(ValidationMetric(quantity, who == "mean" ? .mean : .head(who)))
    }

    enum MetricNameError: Error {
        case notValidation, unknownQuantity(String), needsScope(Quantity)

        var text: String {
            let forms = "val_loss, val_<quantity>/<head> or val_<quantity>/mean, with quantity one of "
                + Quantity.allCases.map(\.rawValue).joined(separator: ", ")
            switch self {
            case .notValidation: return "a validation metric named as its metrics.csv column (\(forms))"
            case .unknownQuantity(let q): return "a validation metric (\(forms)); '\(q)' is not a quantity"
            case .needsScope(let q): return "a metric of one head or of the mean over heads: val_\(q.rawValue)/<head> or val_\(q.rawValue)/mean"
            }
        }
    }
}

/// `training.early_stopping`: stop when the metric has not improved by more than
/// `minDelta` for `patience` evaluations in a row.
public struct EarlyStoppingConfig: Equatable, Sendable {
    public var metric: ValidationMetric
    public var mode: MetricMode
    /// Evaluations without improvement after which the run stops.
    public var patience: Int = 3
    /// An improvement smaller than this (in the metric's units) does not count.
    public var minDelta: Double = 0
    public init(metric: ValidationMetric, mode: MetricMode? = nil, patience: Int = 3, minDelta: Double = 0) {
        self.metric = metric; self.mode = mode ?? metric.naturalMode; self.patience = patience; self.minDelta = minDelta
    }
}

/// `checkpoint.keep_best`: keep `best.h5`, the checkpoint of the best evaluation so far.
public struct KeepBestConfig: Equatable, Sendable {
    public var metric: ValidationMetric
    public var mode: MetricMode
    public init(metric: ValidationMetric, mode: MetricMode? = nil) {
        self.metric = metric; self.mode = mode ?? metric.naturalMode
    }
}

/// `training.freeze`: the layers whose parameters the optimizer leaves alone.
public enum FrozenLayers: Equatable, Sendable {
    /// Named layers (state_dict prefixes: `conv1`, `layer1.0.conv1`); empty = none.
    case layers([String])
    /// Every parameter outside the heads.
    case trunk

    public var isEmpty: Bool { self == .layers([]) }
}

// MARK: - reading

extension SectionReader {
    /// A validation metric at `key` (a metrics.csv column name).
    func validationMetric(_ key: String) throws(ConfigError) -> ValidationMetric {
        let node = try required(key)
        let text = try values.string(node, path + [key])
        switch ValidationMetric.parse(text) {
        case .success(let metric): return metric
        case .failure(let error): throw values.fail(path + [key], node, error.text)
        }
    }
}

extension EarlyStoppingConfig {
    static let keys = ["metric", "mode", "patience", "min_delta"]

    init(reading r: SectionReader) throws(ConfigError) {
        try r.checkKeys(Self.keys)
        let metric = try r.validationMetric("metric")
        self.init(metric: metric, mode: try r.choice("mode", metric.naturalMode))
        patience = try r.int("patience", patience, .positive)
        minDelta = try r.double("min_delta", minDelta, .nonNegative)
    }
}

extension KeepBestConfig {
    /// `keep_best: val_accuracy/mean` or `keep_best: {metric: val_loss, mode: min}`.
    init(reading r: SectionReader, key: String) throws(ConfigError) {
        let node = try r.required(key)
        if case .mapping = node {
            let m = try r.values.mapping(node, r.path + [key])
            try m.checkKeys(["metric", "mode"])
            let metric = try m.validationMetric("metric")
            self.init(metric: metric, mode: try m.choice("mode", metric.naturalMode))
        } else {
            self.init(metric: try r.validationMetric(key))
        }
    }
}

extension FrozenLayers {
    /// `freeze: trunk` or `freeze: [conv1, bn1]`.
    init(reading r: SectionReader, key: String) throws(ConfigError) {
        guard let node = r.node(key) else { self = .layers([]); return }
        if case .scalar = node {
            guard node.plainText == "trunk" else {
                throw r.values.fail(r.path + [key], node, "'trunk' (every layer outside the heads) or a list of layer names")
            }
            self = .trunk
            return
        }
        self = .layers(try r.strings(key, []))
    }
}

// MARK: - checks across sections

extension RunConfig {
    /// The watched metrics must be of the validation split and name heads that report them.
    func checkMonitors(_ tree: ConfigTree) throws(ConfigError) {
        var watched: [(KeyPath, ValidationMetric)] = []
        if let e = training.earlyStopping { watched.append((["training", "early_stopping", "metric"], e.metric)) }
        if let b = checkpoint.keepBest {
            let path: KeyPath = ["checkpoint", "keep_best"]
            if case .mapping = tree.node(at: path) { watched.append((path + ["metric"], b.metric)) }
            else { watched.append((path, b.metric)) }
        }
        for (path, metric) in watched {
            let node = tree.node(at: path)
            let quantity = metric.quantity.rawValue
            switch metric.scope {
            case .total:
                break
            case .head(let name):
                guard let head = heads.first(where: { $0.name == name }) else {
                    throw tree.error(path, node, "'\(path.dotted)' \(metric): '\(name)' is not a head (heads: "
                                     + heads.map(\.name).joined(separator: ", ") + "; or val_\(quantity)/mean)")
                }
                guard metric.quantity.applies(to: head.kind) else {
                    throw tree.error(path, node, "'\(path.dotted)' \(metric): a \(head.kind.rawValue) head has no \(quantity)"
                                     + " (heads report: \(Self.quantities(of: head.kind)))")
                }
            case .mean:
                if heads.contains(where: { $0.name == "mean" }) {
                    throw tree.error(path, node, "'\(path.dotted)' \(metric) is ambiguous: a head is named 'mean';"
                                     + " rename that head to watch the mean over heads")
                }
                guard heads.contains(where: { metric.quantity.applies(to: $0.kind) }) else {
                    throw tree.error(path, node, "'\(path.dotted)' \(metric): no head reports \(quantity)")
                }
            }
            // Choosing by the test split would let the test split choose the model.
            if data.validationFraction == 0 {
                throw tree.error(path, node, "'\(path.dotted)' \(metric) needs a validation split:"
                                 + " set data.validation_fraction (e.g. 0.1)")
            }
        }
    }

    private static func quantities(of kind: HeadConfig.Kind) -> String {
        ValidationMetric.Quantity.allCases.filter { $0.applies(to: kind) }.map(\.rawValue).joined(separator: ", ")
    }
}
