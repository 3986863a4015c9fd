// What a progress bar says: a title with its totals ("epoch 2/4", "import train"), the bar,
// the percentage, done/total with their unit, then details (rate, loss, ETA). Pure
// functions, so the text can be checked without a terminal.

import Foundation

public enum ProgressBar {
    /// `title [#####     ]  50% 32/64 steps  detail  detail`, cut to `columns` characters
    /// when given (a line longer than the terminal wraps, and the next redraw would erase
    /// only its last part).
    public static func render(title: String, done: Int, total: Int, unit: String, details: [String] = [],
                              width: Int = 24, columns: Int? = nil) -> String {
        let fraction = total > 0 ? min(1, max(0, Double(done) / Double(total))) : 0
        let filled = Int((Double(width) * fraction).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let percent = String(format: "%3d%%", Int((100 * fraction).rounded(.down)))
        var text = "\(title) [\(bar)] \(percent) \(done)/\(total) \(unit)"
        for d in details where !d.isEmpty { text += "  " + d }
        return fit(text, columns: columns)
    }

    /// `text` cut to at most `columns - 1` characters (the last column is left free: some
    /// terminals wrap when it is written). Nil or non-positive `columns`: unchanged.
    public static func fit(_ text: String, columns: Int?) -> String {
        guard let columns, columns > 1, text.count > columns - 1 else { return text }
        return String(text.prefix(columns - 1))
    }

    /// `m:ss`, or `h:mm:ss` from an hour; `?` for a time not known (NaN, infinite, negative).
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds)
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
            : String(format: "%d:%02d", s / 60, s % 60)
    }

    /// Seconds left at the rate so far: `elapsed` for `done` of `total` (NaN until something is done).
    public static func remaining(done: Int, total: Int, elapsed: Double) -> Double {
        guard done > 0, elapsed > 0 else { return .nan }
        return Double(total - done) * elapsed / Double(done)
    }
}
