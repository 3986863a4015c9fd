// Helpers shared by the LoomConfig tests: where the shipped configs live, and small inline configs.

import Foundation
import LoomConfig

enum TestConfigs {
    /// The repository root, found from this file's path (Tests/LoomConfigTests/TestConfigs.swift).
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ relative: String) -> String { repo.appendingPathComponent(relative).path }

    /// Every YAML run config shipped in configs/ (model files excluded).
    static let shipped = ["configs/fashion-mnist.yaml", "configs/fashion-mnist-resnet.yaml", "configs/multilabel.yaml",
                          "configs/smoke.yaml"]

    /// A valid config with an inline model: line numbers in tests refer to this text.
    static let minimal = """
        name: tiny
        model:
          input: [1, 28, 28]
          layers:
            - {kind: flatten}
            - {kind: linear, name: l1, out: 16}
        training:
          batch_size: 64
          micro_batch: 16
        optimizer:
          lr: 0.1
        """

    static func parse(_ yaml: String, overrides: [String] = []) throws(ConfigError) -> RunConfig {
        try ConfigLoader.parse(yaml: yaml, source: "test.yaml", overrides: overrides, defaultName: "test")
    }

    /// The error thrown by parsing `yaml`, or nil if it parsed.
    static func error(_ yaml: String, overrides: [String] = []) -> ConfigError? {
        do {
            _ = try parse(yaml, overrides: overrides)
            return nil
        } catch {
            return error
        }
    }
}
