// `model: {file: models/x.yaml}` — the trunk (and optionally the heads) read from a model file.

import Foundation
import Yams

extension ConfigTree {
    /// Keys a model file may hold.
    static let modelFileKeys = ["input", "layers", "heads"]

    /// Replaces `model: {file: F, ...}` by F's `input` and `layers`, keeping any other key of
    /// the config's `model` (they win over F's). F's `heads` become the top-level `heads` unless
    /// the config has its own. `F` is relative to `baseDirectory` (the config file's folder).
    mutating func includeModelFile(baseDirectory: String) throws(ConfigError) {
        guard case .mapping(let rootMapping) = root, let modelNode = rootMapping.value("model"),
              case .mapping(let model) = modelNode, let fileNode = model.value("file") else { return }
        let filePath = ["model", "file"]
        let values = ValueReader(tree: self)
        let file = try values.string(fileNode, filePath)
        let resolved = file.hasPrefix("/") || baseDirectory.isEmpty ? file : baseDirectory + "/" + file
        let text: String
        switch TextFile.read(resolved) {
        case .success(let read): text = read
        case .failure(let failure): throw error(filePath, fileNode, "'model.file': cannot read the model file '\(resolved)': \(failure.why)")
        }
        let included: Node?
        do {
            included = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(yamlError: error, source: resolved)
        }
        // Errors inside the model file name the model file, at the config key paths.
        addOrigin(["model"], source: resolved, hasLines: true)
        guard let included, case .mapping(let fileMapping) = included else {
            throw ConfigError(source: resolved, line: included?.mark?.line, keyPath: "model",
                              message: "a model file must be a mapping with 'input' and 'layers'")
        }
        try SectionReader(mapping: fileMapping, node: included, path: ["model"], values: ValueReader(tree: self))
            .checkKeys(Self.modelFileKeys)

        var merged = Node.Mapping(fileMapping.filter { $0.key.scalar?.string != "heads" }.map { ($0.key, $0.value) }, fileMapping.tag,
                                  .block, fileMapping.mark)
        for (key, _, value) in model.stringPairs where key != "file" {
            merged = merged.setting(key, to: value)
            addOrigin(["model", key], source: origin(of: []).source, hasLines: true)
        }
        var newRoot = rootMapping.setting("model", to: .mapping(merged))
        if let heads = fileMapping.value("heads"), rootMapping.value("heads") == nil {
            newRoot = newRoot.setting("heads", to: heads)
            addOrigin(["heads"], source: resolved, hasLines: true)
        }
        root = .mapping(newRoot)
    }
}

extension ConfigError {
    /// A YAML syntax error from Yams, at its line.
    init(yamlError: Error, source: String) {
        switch yamlError {
        case YamlError.scanner(_, let problem, let mark, _),
             YamlError.parser(_, let problem, let mark, _),
             YamlError.composer(_, let problem, let mark, _):
            self.init(source: source, line: mark.line, keyPath: "", message: "invalid YAML: \(problem)")
        default:
            self.init(source: source, line: nil, keyPath: "", message: "invalid YAML: \(yamlError)")
        }
    }
}
