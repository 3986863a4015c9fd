// Reading a run configuration: YAML text -> node tree -> model include -> `--set` overrides
// -> typed, validated `RunConfig`. The CLI is the only caller that touches the file system
// through `load`; tests and checkpoint readers use `parse`.

import Foundation
import Yams

/// Loads and validates run configurations (see docs/CONFIG.md for every key).
public enum ConfigLoader {
    /// Reads the YAML config at `path`, applies `overrides` (`key.path=value`, as given to
    /// `--set`) and validates it. The run name defaults to the file's base name.
    public static func load(path: String, overrides: [String] = []) throws(ConfigError) -> RunConfig {
        let text: String
        switch TextFile.read(path) {
        case .success(let read): text = read
        case .failure(let failure):
            throw ConfigError(source: path, line: nil, keyPath: "", message: "cannot read the config file '\(path)': \(failure.why)")
        }
        let base = (path as NSString).lastPathComponent
        let name = (base as NSString).deletingPathExtension
        return try parse(yaml: text, source: path, overrides: overrides, defaultName: name)
    }

    /// Parses config text. `source` names the text in errors and, when it is a file path, is
    /// where `model.file` is looked up from (its folder). `defaultName` is the run name when
    /// the text has no `name` key. `RunConfig.yaml` of the result parses back to an equal config.
    public static func parse(yaml: String, source: String, overrides: [String] = [],
                             defaultName: String) throws(ConfigError) -> RunConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(yamlError: error, source: source)
        }
        var tree = ConfigTree(root: root ?? Node([(Node, Node)]()), source: source)
        let parsed = try overrides.map { (text) throws(ConfigError) in try ConfigOverride(text) }

        // `--set model.file=...` picks another model file: it replaces the whole `model`, then
        // is included like a file named in the config. Every other override sees the included tree.
        let modelFile: KeyPath = ["model", "file"]
        for override in parsed where override.path == modelFile {
            if case .mapping(let mapping) = tree.root {
                tree.root = .mapping(mapping.setting("model", to: Node([(Node("file"), override.value)])))
                tree.addOrigin(["model"], source: override.source, hasLines: false)
            }
        }
        let directory = (source as NSString).deletingLastPathComponent
        try tree.includeModelFile(baseDirectory: directory)
        for override in parsed where override.path != modelFile {
            try tree.apply(override)
        }

        var config = try RunConfig(tree: tree, defaultName: defaultName)
        config.yaml = try tree.effectiveYAML(name: config.name)
        return config
    }
}
