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
    /// multilabel heads), over the heads with a labelled sample; NaN when no head has one.
    public var loss: Double
    /// Per head, the accumulator the metrics came from (confusion, top-k hits, calibration
    /// bins): what reports and `eval --json` draw from. Empty when the report was built by hand.
    public var accumulators: [HeadMetrics]
    /// Per head, the temperature the logits were divided by (1 when uncalibrated).
    public var temperatures: [Double]

    public init(split: String, count: Int, heads: [(name: String, metrics: [String: Double])],
                confusion: [[Int]?], loss: Double, accumulators: [HeadMetrics] = [], temperatures: [Double] = []) {
        self.split = split; self.count = count; self.heads = heads; self.confusion = confusion; self.loss = loss
        self.accumulators = accumulators; self.temperatures = temperatures
    }

    /// Mean over heads of a metric (e.g. "accuracy"), over the heads where it is defined
    /// (not NaN: a head with nothing labelled has no accuracy); NaN when no head has it.
    public func mean(_ metric: String, over indices: [Int]? = nil) -> Double {
        let values = (indices ?? Array(heads.indices)).compactMap { heads[$0].metrics[metric] }.filter { !$0.isNaN }
        return values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }
}

public enum Evaluation {
    /// Evaluates `indices` of `split` (labels read from `dataset`) with `executor`, applying the
    /// calibration temperatures stored in `state` when `calibrated`.
    public static func run(split: String, indices: [Int], dataset: Dataset, state: TrainingState,
                           executor: StepExecutor, tta: Bool = false,
                           calibrated: Bool = true) throws(TrainingError) -> EvaluationReport {
        let logits = try executor.predict(split: split, indices: indices, state: state, tta: tta)
        let truth: GroundTruth
        do {
            truth = try GroundTruth.read(try dataset.split(split), heads: state.problem.heads).rows(indices)
        } catch let error as TrainingError {
            throw error
        } catch let error as DatasetError {
            throw .dataset(error)
        } catch {
            throw .cluster(what: "evaluation on '\(split)'", cause: error)
        }
        return try score(split: split, logits: logits, truth: truth, problem: state.problem,
                         temperatures: calibrated ? state.calibration : [:])
    }

    /// Metrics of logits already computed: `logits[h]` is head h's (N, K_h) for the N samples
    /// of `truth`; each head's logits are divided by `temperatures[head name]` when it is > 0.
    /// One prediction pass can so be scored both uncalibrated and calibrated.
    public static func score(split: String, logits: [[Float]], truth: GroundTruth, problem: TrainingProblem,
                             temperatures: [String: Double]) throws(TrainingError) -> EvaluationReport {
        let count = truth.count
        var heads: [(String, [String: Double])] = []
        var confusion: [[Int]?] = []
        var accumulators: [HeadMetrics] = []
        var applied: [Double] = []
        var loss = 0.0, lossHeads = 0
        do {
            for (h, head) in problem.config.heads.enumerated() {
                let labels = truth.labels[h]
                let k = problem.losses[h].classes
                var values = logits[h]
                var temperature = 1.0
                if let t = temperatures[head.name], t > 0 {
                    temperature = t
                    for i in 0..<values.count { values[i] /= Float(t) }
                }
                var metrics = HeadMetrics(kind: head.kind, classes: head.kind == .binary ? 1 : k)
                if count > 0 {
                    try values.withUnsafeBufferPointer { v in
                        if problem.heads[h].usesTargets {
                            try truth.targets[h].withUnsafeBufferPointer { t in
                                try metrics.add(logits: v.baseAddress!, targets: .dense(t.baseAddress!), count: count)
                            }
                        } else {
                            try labels.withUnsafeBufferPointer { y in
                                try metrics.add(logits: v.baseAddress!, targets: .classes(y.baseAddress!), count: count)
                            }
                        }
                    }
                }
                let report = metrics.report()
                heads.append((head.name, report))
                confusion.append(metrics.confusion)
                accumulators.append(metrics)
                applied.append(temperature)
                // NLL of softmax and binary heads, mean BCE over the labelled elements of multilabel
                // heads. A head with nothing labelled has no loss (NaN) and adds nothing; a NaN
                // from a diverged model still makes the total NaN.
                if report["count"] ?? 0 > 0 {
                    loss += head.lossWeight * (report["nll"] ?? report["bce"] ?? 0)
                    lossHeads += 1
                }
            }
        } catch let error as TrainingError {
            throw error
        } catch let error as DatasetError {
            throw .dataset(error)
        } catch let error as MetricsError {
            throw .metrics(error)
        } catch {
            throw .cluster(what: "evaluation on '\(split)'", cause: error)
        }
        return EvaluationReport(split: split, count: count, heads: heads, confusion: confusion,
                                loss: lossHeads > 0 ? loss : .nan, accumulators: accumulators, temperatures: applied)
    }
}
