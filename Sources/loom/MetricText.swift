import Foundation

/// How the CLI prints a metric. NaN means the metric does not exist (a head with nothing
/// labelled has no accuracy): text shows `n/a`, JSON `null`. metrics.csv keeps `nan`, the
/// spelling its reader (LoomCheckpoint's `readMetricsCSV`) and pandas read back as NaN.
enum MetricText {
    /// `value` with a printf `format` (one Double), or `n/a` for NaN.
    static func text(_ value: Double, _ format: String = "%.4f") -> String {
        value.isNaN ? "n/a" : String(format: format, value)
    }

    /// `text(value, format)` left-aligned in `width` columns.
    static func column(_ value: Double, width: Int, _ format: String = "%.4f") -> String {
        let t = text(value, format)
        return t.count >= width ? t : t + String(repeating: " ", count: width - t.count)
    }

    /// A JSON value: the number, or null when it is not finite (JSON has no NaN or infinity).
    static func json(_ value: Double) -> Any {
        value.isFinite ? value : NSNull()
    }
}
