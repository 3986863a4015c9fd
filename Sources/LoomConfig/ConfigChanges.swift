// What changed between the config a checkpoint was trained with and the config a resume
// brings, key by key, and which of those changes break an exact resume.

import Yams

/// One config key whose value differs between two effective configs.
public struct ConfigChange: Equatable, Sendable, CustomStringConvertible {
    /// Dotted key path; list items by index (`model.layers.3.out`, `optimizer.lr`).
    public var key: String
    /// The value before (the checkpoint's), nil when the key was absent (a default).
    public var old: String?
    /// The value now, nil when the key is absent now (a default).
    public var new: String?

    public init(key: String, old: String?, new: String?) {
        self.key = key; self.old = old; self.new = new
    }

    /// Whether a run resumed with this change can no longer match an uninterrupted run:
    /// the model and its heads, the data and how it is read (but not where the file is:
    /// the dataset's fingerprint is checked apart), the batch, the micro-batch (batch-norm
    /// statistics are per micro-shard) and the seed (sampling, augmentation, validation
    /// split), and which layers are frozen (`training.freeze`, `freeze_epochs`: a
    /// `--freeze` left off a resume command would silently unfreeze them). Other changes
    /// (learning rate, schedule, epochs, early stopping, logging, checkpoints, cluster
    /// timing) are deliberate changes of course and allowed.
    public var breaksExactResume: Bool {
        let section = key.split(separator: ".").first.map(String.init) ?? key
        switch section {
        case "model", "heads": return true
        case "data": return key != "data.path"
        default: return Self.breakingKeys.contains(key) || key.hasPrefix("training.freeze.")
        }
    }

    static let breakingKeys: Set<String> = ["training.batch_size", "training.micro_batch", "training.seed",
                                            "training.freeze", "training.freeze_epochs"]

    /// `optimizer.lr: 0.05 -> 0.01`; an absent side reads `(default)`.
    public var description: String { "\(key): \(old ?? "(default)") -> \(new ?? "(default)")" }
}

/// Key-by-key comparison of two effective configs (`RunConfig.yaml`, the text stored in
/// checkpoints).
public enum ConfigChanges {
    /// The keys whose values differ from `old` to `new`, sorted by key. Values compare as
    /// YAML scalars (`0.05` equals `5.0e-2`); a key present on one side only is a change.
    /// Throws when either text is not a YAML mapping; `source` names them in the error.
    public static func between(old: String, new: String, source: (old: String, new: String))
        throws(ConfigError) -> [ConfigChange] {
        let a = try flatten(old, source: source.old), b = try flatten(new, source: source.new)
        return Set(a.keys).union(b.keys).sorted().compactMap { key in
            a[key] == b[key] ? nil : ConfigChange(key: key, old: a[key], new: b[key])
        }
    }

    /// Dotted key path -> canonical scalar text, for every leaf of the YAML mapping.
    static func flatten(_ text: String, source: String) throws(ConfigError) -> [String: String] {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw ConfigError(source: source, line: nil, keyPath: "", message: "cannot read the config as YAML: \(error)")
        }
        guard let node, case .mapping = node else {
            throw ConfigError(source: source, line: nil, keyPath: "", message: "the config is not a YAML mapping")
        }
        var out: [String: String] = [:]
        walk(node, path: "", into: &out)
        return out
    }

    private static func walk(_ node: Node, path: String, into out: inout [String: String]) {
        func join(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
        switch node {
        case .mapping(let m):
            if m.isEmpty { out[path] = "{}" }
            for (k, v) in m { walk(v, path: join(k.string ?? "\(k)"), into: &out) }
        case .sequence(let s):
            if s.isEmpty { out[path] = "[]" }
            for (i, v) in s.enumerated() { walk(v, path: join(String(i)), into: &out) }
        case .scalar:
            out[path] = canonical(node)
        }
    }

    /// A scalar as it compares: numbers by value, booleans and null by meaning, else the text.
    private static func canonical(_ node: Node) -> String {
        let text = node.string ?? ""
        if node.tag.description.hasSuffix(":str") { return text }
        if let b = node.bool { return b ? "true" : "false" }
        if let i = node.int { return String(i) }
        if let d = node.float { return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d) }
        if node.null != nil { return "null" }
        return text
    }
}
