// What `loom inspect` shows of a run's early-stopping and best-checkpoint records (`/extra`
// `early_stopping_*`, `keep_best_*`, written by LoomTraining's ValidationWatch).

/// One watched metric's record as a checkpoint holds it.
public struct WatchRecord: Sendable, Equatable {
    /// `"val_loss min"`: the metric and its mode.
    public var metric: String
    public var best: Double
    /// -1 before the first evaluation with a value.
    public var bestStep: Int
    /// Early stopping only: evaluations since the best, and the step the run stopped at.
    public var wait: Int?
    public var stoppedStep: Int?

    /// The early-stopping record (`early_stopping_*`) or the best-checkpoint record
    /// (`keep_best_*`) of `extra`, nil when absent.
    static func read(_ extra: [String: String], earlyStopping: Bool) -> WatchRecord? {
        let prefix = earlyStopping ? "early_stopping" : "keep_best"
        guard let metric = extra[prefix + "_metric"] else { return nil }
        let best = extra[earlyStopping ? "early_stopping_best" : "keep_best_value"].flatMap(Double.init) ?? .nan
        let step = extra[prefix + (earlyStopping ? "_best_step" : "_step")].flatMap { Int($0) } ?? -1
        return WatchRecord(metric: metric, best: best, bestStep: step,
                           wait: earlyStopping ? extra["early_stopping_wait"].flatMap { Int($0) } : nil,
                           stoppedStep: earlyStopping ? extra["early_stopping_stopped_step"].flatMap { Int($0) } : nil)
    }

    /// `val_loss min: best 0.3369 at step 1263, 2 evaluations since, stopped at step 2105`.
    var text: String {
        var s = metric + ": " + (bestStep >= 0 ? "best \(CheckpointInspection.num(best)) at step \(bestStep)" : "no value yet")
        if let wait { s += ", \(wait) evaluation\(wait == 1 ? "" : "s") since" }
        if let stoppedStep { s += ", stopped at step \(stoppedStep)" }
        return s
    }

    var json: JSONValue {
        var fields: [(String, JSONValue)] = [("metric", .string(metric)), ("best", .number(best)), ("best_step", .int(bestStep))]
        if let wait { fields.append(("wait", .int(wait))) }
        if earlyStoppingRecord { fields.append(("stopped_step", stoppedStep.map { .int($0) } ?? .null)) }
        return .object(fields)
    }

    private var earlyStoppingRecord: Bool { wait != nil }
}
