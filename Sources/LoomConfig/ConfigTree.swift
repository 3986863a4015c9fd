// The YAML node tree of one run configuration, plus where each part of it came from.
// Includes and `--set` overrides graft nodes from other sources into the tree; errors must
// still name the file (and line) the offending value was written in.

import Yams

/// A key path into the config tree: mapping keys and list indices (as decimal strings).
typealias KeyPath = [String]

extension Array where Element == String {
    /// `model.layers.3.out`: the same spelling `--set` accepts.
    var dotted: String { joined(separator: ".") }
}

/// The merged config tree and the provenance of each of its subtrees.
struct ConfigTree {
    /// Where a subtree came from. `hasLines` is false for overrides: their marks are lines
    /// of the `--set` value, which mean nothing to the user.
    struct Origin {
        var path: KeyPath
        var source: String
        var hasLines: Bool
    }

    var root: Node
    /// Longest matching path prefix wins; among equal prefixes, the last added wins.
    private(set) var origins: [Origin]

    init(root: Node, source: String) {
        self.root = root
        self.origins = [Origin(path: [], source: source, hasLines: true)]
    }

    mutating func addOrigin(_ path: KeyPath, source: String, hasLines: Bool) {
        origins.append(Origin(path: path, source: source, hasLines: hasLines))
    }

    /// The origin that supplied the value at `path`.
    func origin(of path: KeyPath) -> Origin {
        var best = origins[0]
        for origin in origins where origin.path.count >= best.path.count
            && origin.path.count <= path.count && Array(path.prefix(origin.path.count)) == origin.path {
            best = origin
        }
        return best
    }

    /// An error about the value at `path`, located at `node`'s line when its source has lines.
    /// A key no file wrote (its node has no line) that an override's path runs through was
    /// made by that override: `--set traning.lr=1` is blamed for the unknown key `traning`.
    func error(_ path: KeyPath, _ node: Node?, _ message: String) -> ConfigError {
        var origin = origin(of: path)
        if origin.hasLines, node?.mark == nil,
           let made = origins.last(where: { !$0.hasLines && $0.path.count > path.count && Array($0.path.prefix(path.count)) == path }) {
            origin = made
        }
        let line = origin.hasLines ? node?.mark?.line : nil
        return ConfigError(source: origin.source, line: line, keyPath: path.dotted, message: message)
    }
}

// MARK: - Node helpers

extension Node {
    /// True for a plain `null`, `~` or empty value: treated as "not given".
    var isNull: Bool {
        guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The text of a plain (unquoted) scalar: numbers and booleans must be written plain.
    var plainText: String? {
        guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any else { return nil }
        return scalar.string
    }

    /// How to show this value in an error message.
    var shown: String {
        switch self {
        case .scalar(let scalar): return "'\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}

extension Node.Mapping {
    /// The pairs with their keys as strings (non-scalar keys are shown as `?`).
    var stringPairs: [(key: String, keyNode: Node, value: Node)] {
        map { pair in (pair.key.scalar?.string ?? "?", pair.key, pair.value) }
    }

    /// The value for a string key (the first one; duplicate keys are rejected by the reader).
    func value(_ key: String) -> Node? {
        first { $0.key.scalar?.string == key }?.value
    }

    /// A copy with `key` set to `value` (replacing in place, or appended at the end).
    func setting(_ key: String, to value: Node?) -> Node.Mapping {
        var pairs = map { ($0.key, $0.value) }
        if let index = pairs.firstIndex(where: { $0.0.scalar?.string == key }) {
            if let value { pairs[index].1 = value } else { pairs.remove(at: index) }
        } else if let value {
            pairs.append((Node(key), value))
        }
        return Node.Mapping(pairs, tag, style, mark)
    }
}
