// Test-time augmentation: fixed, deterministic views whose predictions are averaged at
// evaluation (`data.tta` in the config).

/// One fixed view of an image for test-time augmentation.
public enum TTATransform: Equatable, Hashable, Sendable, CustomStringConvertible {
    case identity
    /// Mirror left-right.
    case hflip
    /// Translate: output (y, x) shows source (y + dy, x + dx); uncovered pixels are 0.
    case shift(dx: Int, dy: Int)

    /// Parses `data.tta` names: `identity`, `hflip`, and `crop`, which expands to the four
    /// shifts by `cropShift` pixels (left, right, up, down), the views a padded random
    /// crop produces most often at its extremes.
    public static func parse(_ names: [String], cropShift: Int = 2) throws(DatasetError) -> [TTATransform] {
        var out: [TTATransform] = []
        for (i, name) in names.enumerated() {
            switch name {
            case "identity": out.append(.identity)
            case "hflip": out.append(.hflip)
            case "crop":
                let s = max(1, cropShift)
                out += [.shift(dx: -s, dy: 0), .shift(dx: s, dy: 0), .shift(dx: 0, dy: -s), .shift(dx: 0, dy: s)]
            default:
                throw .badConfig(key: "data.tta[\(i)]", reason: "unknown transform '\(name)' (expected identity, hflip or crop)")
            }
        }
        return out
    }

    public var description: String {
        switch self {
        case .identity: return "identity"
        case .hflip: return "hflip"
        case .shift(let dx, let dy): return "shift(\(dx),\(dy))"
        }
    }
}
