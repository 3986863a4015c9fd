// The Prometheus text exposition format (version 0.0.4) of `MetricsValues`.
// Every family has HELP and TYPE lines; counters end in `_total`; units are base units
// (seconds), so `promtool check metrics` has nothing to lint.

import Foundation

public enum MetricsExposition {
    /// The `Content-Type` a scrape response carries.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Renders every family. A gauge with no value yet (no checkpoint written) has its
    /// HELP and TYPE lines but no sample, so dashboards show "no data" rather than a lie.
    public static func render(_ v: MetricsValues, now: Date = Date()) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for s in samples { out += "\(name)\(s.labels) \(s.value)\n" }
        }
        func one(_ name: String, _ type: String, _ help: String, _ value: String) {
            family(name, type, help, [("", value)])
        }
        family("loom_run_info", "gauge", "Always 1; the run id of the training run as a label.",
               [("{run_id=\"\(escape(v.runID))\"}", "1")])
        one("loom_step", "gauge", "Optimizer steps completed (the weights' version).", "\(v.step)")
        one("loom_epoch", "gauge", "Epoch of the last completed step, counted from 1 as in the log lines.", "\(v.epoch)")
        one("loom_samples_per_second", "gauge", "Training throughput over the recent steps, in samples per second.",
            number(v.samplesPerSecond))
        one("loom_loss", "gauge", "Weighted total training loss of the last step's batch.", number(v.loss))
        one("loom_learning_rate", "gauge", "Learning rate of the last step.", number(v.learningRate))
        one("loom_live_workers", "gauge", "Workers connected to the coordinator after the last step.", "\(v.liveWorkers)")
        one("loom_reassignments_total", "counter",
            "Blocks of micro-shards given to another worker after their worker died.", "\(v.reassignments)")
        one("loom_workers_joined_total", "counter", "Workers admitted since the coordinator started.", "\(v.workersJoined)")
        one("loom_workers_lost_total", "counter", "Workers declared dead since the coordinator started.", "\(v.workersLost)")
        family("loom_rejected_messages_total", "counter",
               "Messages dropped by the coordinator, by reason (see docs/PROTOCOL.md).",
               v.rejectedMessages.keys.sorted().map { ("{reason=\"\(escape(reasonLabel($0)))\"}", "\(v.rejectedMessages[$0]!)") })
        histogram(&out, "loom_step_duration_seconds",
                  "Wall time between consecutive step completions, in seconds (includes evaluation and checkpoint pauses).",
                  v.stepDuration)
        family("loom_checkpoint_age_seconds", "gauge", "Seconds since the newest checkpoint was written.",
               v.lastCheckpoint.map { [("", number(max(0, now.timeIntervalSince($0))))] } ?? [])
        return out
    }

    private static func histogram(_ out: inout String, _ name: String, _ help: String, _ h: MetricsHistogram) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (bound, count) in h.cumulativeBuckets {
            out += "\(name)_bucket{le=\"\(number(bound))\"} \(count)\n"
        }
        out += "\(name)_sum \(number(h.sum))\n\(name)_count \(h.count)\n"
    }

    /// A float as Prometheus parses it: `NaN`, `+Inf`, `-Inf`, or a Go-parsable decimal.
    public static func number(_ x: Double) -> String {
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x > 0 ? "+Inf" : "-Inf" }
        return "\(x)"
    }

    /// A reason key as a label value: `"stale result"` becomes `stale_result`.
    public static func reasonLabel(_ reason: String) -> String {
        reason.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    /// Label-value escaping of the text format: backslash, double quote and newline.
    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
