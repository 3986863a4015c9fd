// Typed, validated reads from one YAML mapping of the config tree. Every failure becomes a
// `ConfigError` that names the key path and the line it was written on.

import Yams

/// Constraints on a number; the phrase completes "must be ...".
enum NumberRule {
    case any, positive, nonNegative
    /// [0, 1): fractions such as validation_fraction and label_smoothing.
    case fraction
    /// [0, 1]: probabilities.
    case unit

    func accepts(_ x: Double) -> Bool {
        switch self {
        case .any: return x.isFinite
        case .positive: return x > 0 && x.isFinite
        case .nonNegative: return x >= 0 && x.isFinite
        case .fraction: return x >= 0 && x < 1
        case .unit: return x >= 0 && x <= 1
        }
    }

    func phrase(integer: Bool) -> String {
        let noun = integer ? "integer" : "number"
        switch self {
        case .any: return "a \(noun)"
        case .positive: return "a positive \(noun)"
        case .nonNegative: return "a non-negative \(noun)"
        case .fraction: return "a number in [0, 1)"
        case .unit: return "a number in [0, 1]"
        }
    }
}

/// Reads scalar nodes as typed values.
struct ValueReader {
    let tree: ConfigTree

    func fail(_ path: KeyPath, _ node: Node, _ expected: String) -> ConfigError {
        tree.error(path, node, "'\(path.dotted)' must be \(expected), got \(node.shown)")
    }

    /// An integer of `rule` with magnitude at most `limit` (ConfigLimits): every size is
    /// bounded before anything multiplies or allocates with it.
    func int(_ node: Node, _ path: KeyPath, _ rule: NumberRule = .any,
             limit: Int = ConfigLimits.integer) throws(ConfigError) -> Int {
        // The limit is named when the text is a number past it (or past Int's range).
        let text = node.plainText?.replacingOccurrences(of: "_", with: "")
        let beyond = rule.phrase(integer: true) + " ≤ \(limit)"
        guard let text, let value = Int(text) else {
            let isWhole = text.map { !$0.isEmpty && $0.drop(while: { $0 == "-" || $0 == "+" }).allSatisfy(\.isNumber) } ?? false
            throw fail(path, node, isWhole ? beyond : rule.phrase(integer: true))
        }
        guard rule.accepts(Double(value)) else { throw fail(path, node, rule.phrase(integer: true)) }
        guard value <= limit, value >= -limit else { throw fail(path, node, beyond) }
        return value
    }

    func double(_ node: Node, _ path: KeyPath, _ rule: NumberRule = .any) throws(ConfigError) -> Double {
        guard let text = node.plainText, let value = Double(text.replacingOccurrences(of: "_", with: "")),
              value.isFinite, rule.accepts(value) else { throw fail(path, node, rule.phrase(integer: false)) }
        return value
    }

    func bool(_ node: Node, _ path: KeyPath) throws(ConfigError) -> Bool {
        switch node.plainText?.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(path, node, "true or false")
        }
    }

    func string(_ node: Node, _ path: KeyPath, nonEmpty: Bool = true) throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node, !(nonEmpty && scalar.string.isEmpty) else {
            throw fail(path, node, nonEmpty ? "a non-empty string" : "a string")
        }
        return scalar.string
    }

    func choice<E: RawRepresentable & CaseIterable>(_ node: Node, _ path: KeyPath,
                                                    as: E.Type = E.self) throws(ConfigError) -> E
    where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        guard case .scalar(let scalar) = node, let value = E(rawValue: scalar.string) else {
            throw tree.error(path, node, "'\(path.dotted)' has unknown value \(node.shown)"
                             + " (allowed: \(allowed.joined(separator: ", ")))")
        }
        return value
    }

    func list(_ node: Node, _ path: KeyPath) throws(ConfigError) -> [(Node, KeyPath)] {
        guard case .sequence(let sequence) = node else { throw fail(path, node, "a list") }
        return sequence.enumerated().map { ($0.element, path + [String($0.offset)]) }
    }

    func mapping(_ node: Node, _ path: KeyPath) throws(ConfigError) -> SectionReader {
        guard case .mapping(let mapping) = node else { throw fail(path, node, "a mapping") }
        return SectionReader(mapping: mapping, node: node, path: path, values: self)
    }
}

/// One mapping of the tree (`optimizer`, `model.layers.2`, ...) and its typed accessors.
/// Absent and null keys give the default.
struct SectionReader {
    let mapping: Node.Mapping
    let node: Node
    let path: KeyPath
    let values: ValueReader

    /// Rejects keys not in `allowed` (suggesting the closest) and keys given twice.
    func checkKeys(_ allowed: [String]) throws(ConfigError) {
        var seen = Set<String>()
        for (key, keyNode, _) in mapping.stringPairs {
            let keyPath = path + [key]
            if !seen.insert(key).inserted {
                throw values.tree.error(keyPath, keyNode, "key '\(keyPath.dotted)' is given twice")
            }
            if !allowed.contains(key) {
                var message = "unknown key '\(keyPath.dotted)'"
                if let guess = closestMatch(to: key, in: allowed) {
                    message += " (did you mean '\(guess)'?)"
                } else {
                    message += " (allowed: \(allowed.joined(separator: ", ")))"
                }
                throw values.tree.error(keyPath, keyNode, message)
            }
        }
    }

    /// The value node of `key`, nil when absent or null.
    func node(_ key: String) -> Node? {
        guard let value = mapping.value(key), !value.isNull else { return nil }
        return value
    }

    func required(_ key: String) throws(ConfigError) -> Node {
        guard let value = node(key) else {
            throw values.tree.error(path + [key], node, "'\((path + [key]).dotted)' is required")
        }
        return value
    }

    func int(_ key: String, _ fallback: Int, _ rule: NumberRule = .any,
             limit: Int = ConfigLimits.integer) throws(ConfigError) -> Int {
        guard let value = node(key) else { return fallback }
        return try values.int(value, path + [key], rule, limit: limit)
    }

    func double(_ key: String, _ fallback: Double, _ rule: NumberRule = .any) throws(ConfigError) -> Double {
        guard let value = node(key) else { return fallback }
        return try values.double(value, path + [key], rule)
    }

    func bool(_ key: String, _ fallback: Bool) throws(ConfigError) -> Bool {
        guard let value = node(key) else { return fallback }
        return try values.bool(value, path + [key])
    }

    func string(_ key: String, _ fallback: String, nonEmpty: Bool = true) throws(ConfigError) -> String {
        guard let value = node(key) else { return fallback }
        return try values.string(value, path + [key], nonEmpty: nonEmpty)
    }

    func choice<E: RawRepresentable & CaseIterable>(_ key: String, _ fallback: E) throws(ConfigError) -> E
    where E.RawValue == String {
        guard let value = node(key) else { return fallback }
        return try values.choice(value, path + [key])
    }

    func doubles(_ key: String, _ fallback: [Double], _ rule: NumberRule = .any) throws(ConfigError) -> [Double] {
        guard let value = node(key) else { return fallback }
        var result: [Double] = []
        for (item, itemPath) in try values.list(value, path + [key]) {
            result.append(try values.double(item, itemPath, rule))
        }
        return result
    }

    func ints(_ key: String, _ fallback: [Int], _ rule: NumberRule = .any,
              limit: Int = ConfigLimits.integer) throws(ConfigError) -> [Int] {
        guard let value = node(key) else { return fallback }
        var result: [Int] = []
        for (item, itemPath) in try values.list(value, path + [key]) {
            result.append(try values.int(item, itemPath, rule, limit: limit))
        }
        return result
    }

    func strings(_ key: String, _ fallback: [String]) throws(ConfigError) -> [String] {
        guard let value = node(key) else { return fallback }
        var result: [String] = []
        for (item, itemPath) in try values.list(value, path + [key]) {
            result.append(try values.string(item, itemPath))
        }
        return result
    }

    /// A nested mapping, nil when absent.
    func section(_ key: String) throws(ConfigError) -> SectionReader? {
        guard let value = node(key) else { return nil }
        return try values.mapping(value, path + [key])
    }

    /// An error about `key` of this section, at the key's value (or the section) line.
    func error(_ key: String, _ message: String) -> ConfigError {
        values.tree.error(path + [key], mapping.value(key) ?? node, message)
    }
}

/// The allowed word nearest to `word` by edit distance, if it is plausibly a typo of it.
func closestMatch(to word: String, in candidates: [String]) -> String? {
    let scored = candidates.map { ($0, editDistance(Array(word), Array($0))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    return best.1 <= max(2, word.count / 3) ? best.0 : nil
}

/// Levenshtein distance (insertions, deletions, substitutions), one rolling row.
func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var diagonal = row[0]
        row[0] = i
        for j in 1...max(b.count, 1) where !b.isEmpty {
            let above = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1))
            diagonal = above
        }
    }
    return row[b.count]
}
