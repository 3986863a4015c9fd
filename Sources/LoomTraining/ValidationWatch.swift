// What a run watches at its evaluations: the validation metric of `training.early_stopping`
// (stop when it has not improved for `patience` evaluations) and of `checkpoint.keep_best`
// (keep the checkpoint of its best value). Both are pure functions of the evaluations seen,
// which are themselves functions of the step (ARCHITECTURE.md, invariant 1); checkpoints
// carry the state in `/extra`, so a resumed run stops at the same step and keeps the same
// best as an uninterrupted one.

import LoomConfig

extension ValidationMetric {
    /// This metric's value in an evaluation report; NaN when the report does not have it
    /// (no labelled sample).
    public func value(in report: EvaluationReport) -> Double {
        func headValue(_ metrics: [String: Double]) -> Double? {
            switch quantity {
            case .loss: return metrics["nll"] ?? metrics["bce"]
            case .accuracy: return metrics["accuracy"]
            case .balancedAccuracy: return metrics["balanced_accuracy"]
            case .map: return metrics["map"]
            }
        }
        switch scope {
        case .total:
            return report.loss
        case .head(let name):
            return report.heads.first(where: { $0.name == name }).flatMap { headValue($0.metrics) } ?? .nan
        case .mean:
            let values = report.heads.compactMap { headValue($0.metrics) }.filter { !$0.isNaN }
            return values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
        }
    }
}

/// The best value of one metric over the evaluations seen so far.
public struct MetricRecord: Equatable, Sendable {
    /// NaN until an evaluation gives a value.
    public var best: Double = .nan
    /// The step of the best value (-1: none yet).
    public var bestStep: Int = -1
    /// Evaluations since the best one.
    public var wait: Int = 0

    public init() {}

    /// Takes one evaluation's value; true when it is the new best: the first value that is
    /// not NaN, then one better than the best by more than `minDelta`. A NaN is never better.
    public mutating func observe(_ value: Double, step: Int, mode: MetricMode, minDelta: Double) -> Bool {
        let better: Bool
        if value.isNaN {
            better = false
        } else if best.isNaN {
            better = true
        } else {
            better = mode == .min ? value < best - minDelta : value > best + minDelta
        }
        if better {
            best = value; bestStep = step; wait = 0
        } else {
            wait += 1
        }
        return better
    }
}

/// The early-stopping and best-checkpoint records of a run.
public struct ValidationWatch: Sendable {
    public let earlyStopping: EarlyStoppingConfig?
    public let keepBest: KeepBestConfig?
    public private(set) var stopping = MetricRecord()
    public private(set) var best = MetricRecord()
    /// The step at which early stopping ended the run (nil: it has not).
    public private(set) var stoppedAtStep: Int?

    public init(earlyStopping: EarlyStoppingConfig?, keepBest: KeepBestConfig?) {
        self.earlyStopping = earlyStopping
        self.keepBest = keepBest
    }

    /// Whether early stopping has ended the run: `patience` evaluations without improvement.
    /// Follows the config, so a run resumed with a larger patience goes on.
    public var shouldStop: Bool {
        guard let e = earlyStopping else { return false }
        return stopping.wait >= e.patience
    }

    /// What one evaluation changed.
    public struct Observation: Sendable {
        /// History columns: `early_stopping_value`, `early_stopping_best`, `early_stopping_wait`.
        public var columns: [String: Double] = [:]
        /// The keep-best metric reached a new best: write `best.h5`.
        public var newBest = false
        /// This evaluation ended the run.
        public var stops = false
    }

    /// Takes the evaluation made after step `step` (the weights' version).
    mutating func observe(_ report: EvaluationReport, step: Int) -> Observation {
        var out = Observation()
        if let e = earlyStopping, !shouldStop {
            let value = e.metric.value(in: report)
            _ = stopping.observe(value, step: step, mode: e.mode, minDelta: e.minDelta)
            out.columns = ["early_stopping_value": value, "early_stopping_best": stopping.best,
                           "early_stopping_wait": Double(stopping.wait)]
            if shouldStop {
                stoppedAtStep = step
                out.stops = true
            }
        }
        if let b = keepBest {
            out.newBest = best.observe(b.metric.value(in: report), step: step, mode: b.mode, minDelta: 0)
        }
        return out
    }

    // MARK: - checkpoint attributes

    private static let stoppingKeys = (metric: "early_stopping_metric", best: "early_stopping_best",
                                       step: "early_stopping_best_step", wait: "early_stopping_wait",
                                       stopped: "early_stopping_stopped_step")
    private static let bestKeys = (metric: "keep_best_metric", best: "keep_best_value", step: "keep_best_step")

    /// `/extra` attributes. Values are Swift's shortest round-trip decimals, so they read
    /// back to the same bits.
    var attributes: [String: String] {
        var a: [String: String] = [:]
        if let e = earlyStopping {
            let k = Self.stoppingKeys
            a[k.metric] = "\(e.metric) \(e.mode.rawValue)"
            a[k.best] = "\(stopping.best)"
            a[k.step] = String(stopping.bestStep)
            a[k.wait] = String(stopping.wait)
            if let s = stoppedAtStep { a[k.stopped] = String(s) }
        }
        if let b = keepBest {
            let k = Self.bestKeys
            a[k.metric] = "\(b.metric) \(b.mode.rawValue)"
            a[k.best] = "\(best.best)"
            a[k.step] = String(best.bestStep)
        }
        return a
    }

    /// Restores the records a checkpoint holds for the same metric and mode; a record of
    /// another metric (the config changed on resume) is dropped, and that is said in the
    /// returned notes.
    mutating func restore(from extra: [String: String]) -> [String] {
        var notes: [String] = []
        func read(_ keys: (metric: String, best: String, step: String), wait: String?, watching: String)
            -> MetricRecord? {
            guard let stored = extra[keys.metric] else { return nil }
            guard stored == watching else {
                notes.append("the checkpoint's \(keys.metric) is '\(stored)', the config watches '\(watching)': starting that record afresh")
                return nil
            }
            var r = MetricRecord()
            r.best = extra[keys.best].flatMap(Double.init) ?? .nan
            r.bestStep = extra[keys.step].flatMap { Int($0) } ?? -1
            r.wait = wait.flatMap { extra[$0] }.flatMap { Int($0) } ?? 0
            return r
        }
        stopping = MetricRecord()
        stoppedAtStep = nil
        if let e = earlyStopping {
            let k = Self.stoppingKeys
            if let r = read((k.metric, k.best, k.step), wait: k.wait, watching: "\(e.metric) \(e.mode.rawValue)") {
                stopping = r
                if shouldStop { stoppedAtStep = extra[k.stopped].flatMap { Int($0) } }
            }
        }
        best = MetricRecord()
        if let b = keepBest {
            let k = Self.bestKeys
            if let r = read((k.metric, k.best, k.step), wait: nil, watching: "\(b.metric) \(b.mode.rawValue)") { best = r }
        }
        return notes
    }
}
