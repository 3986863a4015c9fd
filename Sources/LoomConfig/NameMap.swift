// A `--map` file of `loom import-weights`: a YAML mapping from Loom name prefixes to the
// source state_dict's prefixes, e.g. `{stem.conv: features.0.0, fc: classifier.1}`.
import Yams

public enum NameMap {
    public static func read(path: String) throws(ConfigError) -> [String: String] {
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
        var result: [String: String] = [:]
        for (key, value) in mapping {
            guard let k = key.scalar?.string, let v = value.scalar?.string, !k.isEmpty, !v.isEmpty else {
                throw ConfigError(source: path, line: key.mark?.line, keyPath: key.scalar?.string ?? "",
                                  message: "each entry must map a non-empty Loom prefix to a non-empty source prefix")
            }
            guard result.updateValue(v, forKey: k) == nil else {
                throw ConfigError(source: path, line: key.mark?.line, keyPath: k, message: "'\(k)' is mapped twice")
            }
        }
        return result
    }
}
