// A `--map` file of `loom import-weights`: a YAML mapping from Loom name prefixes to the
// source state_dict's prefixes, e.g. `{stem.conv: features.0.0, fc: classifier.1}`.
import Yams

public enum NameMap {
    /// One entry of a map file: the Loom prefix, the source's, and the entry's line (1-based).
    public struct Entry: Equatable, Sendable {
        public var loom: String
        public var source: String
        public var line: Int?
    }

    public static func read(path: String) throws(ConfigError) -> [String: String] {
        Dictionary(uniqueKeysWithValues: try entries(path: path).map { ($0.loom, $0.source) })
    }

    /// The entries in file order, with their lines, so that an entry that matches nothing can
    /// be named where it is written.
    public static func entries(path: String) throws(ConfigError) -> [Entry] {
        let text: String
        switch TextFile.read(path) {
        case .success(let read): text = read
        case .failure(let failure):
            throw ConfigError(source: path, line: nil, keyPath: "", message: "cannot read the name map: \(failure.why)")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw ConfigError(yamlError: error, source: path) }
        guard let root, case .mapping(let mapping) = root else {
            throw ConfigError(source: path, line: root?.mark?.line, keyPath: "",
                              message: "a name map must be a mapping 'loom_prefix: source_prefix'")
        }
        var result: [Entry] = []
        for (key, value) in mapping {
            guard let k = key.scalar?.string, let v = value.scalar?.string, !k.isEmpty, !v.isEmpty else {
                throw ConfigError(source: path, line: key.mark?.line, keyPath: key.scalar?.string ?? "",
                                  message: "each entry must map a non-empty Loom prefix to a non-empty source prefix")
            }
            guard !result.contains(where: { $0.loom == k }) else {
                throw ConfigError(source: path, line: key.mark?.line, keyPath: k, message: "'\(k)' is mapped twice")
            }
            result.append(Entry(loom: k, source: v, line: key.mark?.line))
        }
        return result
    }
}
