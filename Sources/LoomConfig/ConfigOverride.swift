// `--set key.path=value`: one override of the config tree, applied before validation.

import Yams

/// A parsed `--set` argument. The value is YAML (`0.1`, `true`, `[0.5, 0.5]`, `{hflip: true}`);
/// the path walks mapping keys and list indices (`heads.0.loss.gamma`).
struct ConfigOverride {
    /// The argument as given, used as the error source: `--set optimizer.lr=0.1`.
    let source: String
    let path: KeyPath
    let value: Node

    init(_ argument: String) throws(ConfigError) {
        source = "--set \(argument)"
        guard let equals = argument.firstIndex(of: "=") else {
            throw ConfigError(source: source, line: nil, keyPath: "",
                              message: "an override must look like key.path=value, got '\(argument)'")
        }
        let key = String(argument[..<equals])
        path = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if path.contains(where: { $0.isEmpty }) {
            throw ConfigError(source: source, line: nil, keyPath: key,
                              message: "the key path '\(key)' has an empty component")
        }
        let text = String(argument[argument.index(after: equals)...])
        do {
            value = try Yams.compose(yaml: text) ?? Node("", .implicit, .plain)
        } catch {
            throw ConfigError(source: source, line: nil, keyPath: key,
                              message: "cannot read the value of '\(key)' as YAML: '\(text)'")
        }
    }
}

extension ConfigTree {
    /// Sets the override's value at its path, creating missing mappings on the way.
    mutating func apply(_ override: ConfigOverride) throws(ConfigError) {
        root = try setting(root, override.path[...], done: [], override)
        addOrigin(override.path, source: override.source, hasLines: false)
    }

    private func setting(_ node: Node?, _ rest: ArraySlice<String>, done: KeyPath,
                         _ override: ConfigOverride) throws(ConfigError) -> Node {
        guard let key = rest.first else { return override.value }
        let fail = { (message: String) in
            ConfigError(source: override.source, line: nil, keyPath: override.path.dotted, message: message)
        }
        let here = done.isEmpty ? "the config" : "'\(done.dotted)'"
        guard let node, !node.isNull else {
            // Missing (or null) on the way: create the mappings the path names.
            if Int(key) != nil {
                throw fail("cannot set '\(override.path.dotted)': \(here) is not a list in the config,"
                           + " so it has no element \(key)")
            }
            let child = try setting(nil, rest.dropFirst(), done: done + [key], override)
            return Node([(Node(key), child)])
        }
        switch node {
        case .mapping(let mapping):
            let child = try setting(mapping.value(key), rest.dropFirst(), done: done + [key], override)
            return .mapping(mapping.setting(key, to: child))
        case .sequence(let sequence):
            guard let index = Int(key), index >= 0, index < sequence.count else {
                throw fail("cannot set '\(override.path.dotted)': \(here) is a list of \(sequence.count)"
                           + " items, '\(key)' is not an index in 0..<\(sequence.count)")
            }
            var items = Array(sequence)
            items[index] = try setting(items[index], rest.dropFirst(), done: done + [key], override)
            return .sequence(Node.Sequence(items, sequence.tag, sequence.style, sequence.mark))
        case .scalar:
            throw fail("cannot set '\(override.path.dotted)': \(here) is a single value, not a mapping")
        }
    }
}
