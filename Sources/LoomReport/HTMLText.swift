// Text in HTML and SVG: escaping, and numbers as a reader wants them.

import Foundation

enum HTML {
    /// `text` safe inside an element or a double-quoted attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A coordinate with two decimals (enough for a screen, short in the file).
    static func coordinate(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(format: "%.2f", r)
    }

    /// A value, `n/a` when undefined; `digits` decimals.
    static func number(_ v: Double?, digits: Int = 4) -> String {
        guard let v, v.isFinite else { return "n/a" }
        return String(format: "%.\(digits)f", v)
    }

    /// A share as a percentage with one decimal: 0.9152 → `91.5%`.
    static func percent(_ v: Double?, digits: Int = 1) -> String {
        guard let v, v.isFinite else { return "n/a" }
        return String(format: "%.\(digits)f%%", 100 * v)
    }

    /// An axis tick label: as few digits as the tick step needs; thousands as `k`.
    static func tick(_ v: Double, step: Double) -> String {
        if abs(v) >= 10_000 && step >= 1000 { return tick(v / 1000, step: step / 1000) + "k" }
        let decimals = step >= 1 ? 0 : min(Int((-log10(step)).rounded(.up)), 6)
        if abs(v) > 0 && abs(v) < 1e-3 && decimals > 4 { return String(format: "%.0e", v) }
        return String(format: "%.\(decimals)f", v)
    }

    /// Seconds as `1h 02m`, `3m 05s`, `12.3 s`.
    static func duration(_ s: Double?) -> String {
        guard let s, s.isFinite else { return "n/a" }
        if s >= 3600 { return String(format: "%dh %02dm", Int(s) / 3600, (Int(s) % 3600) / 60) }
        if s >= 60 { return String(format: "%dm %02ds", Int(s) / 60, Int(s) % 60) }
        return String(format: "%.1f s", s)
    }

    /// Bytes as `1.2 MB`.
    static func bytes(_ n: Int) -> String {
        if n >= 1 << 20 { return String(format: "%.1f MB", Double(n) / Double(1 << 20)) }
        if n >= 1 << 10 { return String(format: "%.1f kB", Double(n) / Double(1 << 10)) }
        return "\(n) B"
    }
}
