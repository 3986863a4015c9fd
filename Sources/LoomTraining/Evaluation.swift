// Metrics of a model on a set of samples: logits come from a StepExecutor (one process or
// the cluster), metrics are computed here from them and the split's labels and targets.

import LoomConfig
import LoomData

/// Metrics of every head on one split.
public struct EvaluationReport: Sendable {
    public var split: String
    public var count: Int
    /// Per head, in head order: (head name, metric name → value).
    public var heads: [(name: String, metrics: [String: Double])]
    /// Per head confusion matrices (K, K), true class major (nil for multilabel).
    public var confusion: [[Int]?]
    /// Sum over heads of the weighted loss (NLL for softmax and binary heads, BCE for
    /// multilabel heads).
    public var loss: Double

    /// Mean over heads of a metric (e.g. "accuracy").
    public func mean(_ metric: String) -> Double {
        let values = heads.compactMap { $0.metrics[metric] }
        return values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }
}

public enum Evaluation {
    /// Evaluates `indices` of `split` (labels read from `dataset`) with `executor`, applying the
    /// calibration temperatures stored in `state` when `calibrated`.
    public static func run(split: String, indices: [Int], dataset: Dataset, state: TrainingState,
                           executor: StepExecutor, tta: Bool = false,
                           calibrated: Bool = true) throws(TrainingError) -> EvaluationReport {
        let problem = state.problem
        let logits = try executor.predict(split: split, indices: indices, state: state, tta: tta)
        var heads: [(String, [String: Double])] = []
        var confusion: [[Int]?] = []
        var loss = 0.0
        do {
            let truth = try GroundTruth.read(try dataset.split(split), heads: problem.heads).rows(indices)
            for (h, head) in problem.config.heads.enumerated() {
                let labels = truth.labels[h]
                let k = problem.losses[h].classes
                var values = logits[h]
                if calibrated, let t = state.calibration[head.name], t > 0 {
                    for i in 0..<values.count { values[i] /= Float(t) }
                }
                var metrics = HeadMetrics(kind: head.kind, classes: head.kind == .binary ? 1 : k)
                try values.withUnsafeBufferPointer { v in
                    if problem.heads[h].usesTargets {
                        try truth.targets[h].withUnsafeBufferPointer { t in
                            try metrics.add(logits: v.baseAddress!, targets: .dense(t.baseAddress!), count: indices.count)
                        }
                    } else {
                        try labels.withUnsafeBufferPointer { y in
                            try metrics.add(logits: v.baseAddress!, targets: .classes(y.baseAddress!), count: indices.count)
                        }
                    }
                }
                let report = metrics.report()
                heads.append((head.name, report))
                confusion.append(metrics.confusion)
                // NLL of softmax and binary heads, mean BCE over the labelled elements of multilabel heads.
                loss += head.lossWeight * (report["nll"] ?? report["bce"] ?? 0)
            }
        } catch {
            throw TrainingError("evaluation on '\(split)': \(error)")
        }
        return EvaluationReport(split: split, count: indices.count, heads: heads, confusion: confusion, loss: loss)
    }
}
