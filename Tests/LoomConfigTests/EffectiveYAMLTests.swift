// `RunConfig.yaml` is the effective config (includes and overrides applied) and parses back
// to an equal `RunConfig` — the promise checkpoints rely on.

import LoomConfig
import Testing

@Test(arguments: TestConfigs.shipped)
func effectiveYAMLParsesBackToAnEqualConfig(_ relative: String) throws {
    let config = try ConfigLoader.load(path: TestConfigs.path(relative),
                                       overrides: ["training.max_steps=7", "data.augment.brightness=0.1"])
    let reread = try ConfigLoader.parse(yaml: config.yaml, source: "checkpoint", defaultName: "other")
    #expect(reread == config)
}

@Test func effectiveYAMLInlinesTheModelFile() throws {
    let config = try ConfigLoader.load(path: TestConfigs.path("configs/smoke.yaml"))
    #expect(!config.yaml.contains("file:"))
    #expect(config.yaml.contains("c1"))
}

@Test func effectiveYAMLCarriesOverrides() throws {
    let config = try TestConfigs.parse(TestConfigs.minimal, overrides: ["optimizer.lr=0.25"])
    #expect(config.yaml.contains("0.25"))
    #expect(try TestConfigs.parse(config.yaml).optimizer.lr == 0.25)
}
