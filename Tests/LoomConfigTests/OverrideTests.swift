// `--set key.path=value` overrides change the tree before validation.

import LoomConfig
import Testing

@Test func overrideReplacesAnExistingValue() throws {
    let config = try TestConfigs.parse(TestConfigs.minimal, overrides: ["optimizer.lr=0.2"])
    #expect(config.optimizer.lr == 0.2)
}

@Test func overrideAddsAKeyAndSectionMissingFromTheFile() throws {
    let config = try TestConfigs.parse(TestConfigs.minimal,
                                       overrides: ["data.augment.hflip=true", "training.max_steps=20"])
    #expect(config.data.augment.hflip)
    #expect(config.training.maxSteps == 20)
}

@Test func overrideValueIsYAML() throws {
    let config = try TestConfigs.parse(TestConfigs.minimal, overrides: ["optimizer.betas=[0.8, 0.99]",
                                                                        "data.tta=[identity, hflip]"])
    #expect(config.optimizer.beta1 == 0.8 && config.optimizer.beta2 == 0.99)
    #expect(config.data.tta == ["identity", "hflip"])
}

@Test func laterOverrideWins() throws {
    let config = try TestConfigs.parse(TestConfigs.minimal, overrides: ["optimizer.lr=0.2", "optimizer.lr=0.3"])
    #expect(config.optimizer.lr == 0.3)
}

@Test func overrideIndexesIntoLists() throws {
    let yaml = TestConfigs.minimal + "\nheads:\n  - {name: category, loss: {kind: focal}}"
    let config = try TestConfigs.parse(yaml, overrides: ["heads.0.loss.gamma=1", "model.layers.1.out=32"])
    #expect(config.heads[0].loss?.gamma == 1)
    #expect(config.model.layers[1].out == 32)
}

@Test func overrideReachesIntoTheIncludedModelFile() throws {
    let config = try ConfigLoader.load(path: TestConfigs.path("configs/smoke.yaml"),
                                       overrides: ["model.layers.0.out=16"])
    #expect(config.model.layers[0].name == "c1" && config.model.layers[0].out == 16)
}

@Test func overrideOfUnknownKeyFailsNamingTheKey() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["optimizer.momentun=0.5"]))
    #expect(error.description
            == "--set optimizer.momentun=0.5: unknown key 'optimizer.momentun' (did you mean 'momentum'?)")
}

@Test func overrideWithBadValueNamesTheOverride() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["training.batch_size=abc"]))
    #expect(error.description == "--set training.batch_size=abc: 'training.batch_size' must be a positive integer, got 'abc'")
}

@Test func overrideIndexOutOfRangeIsAnError() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["model.layers.5.out=3"]))
    #expect(error.keyPath == "model.layers.5.out")
    #expect(error.description.contains("is a list of 2 items"))
}

@Test func overrideWithoutEqualsSignIsAnError() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["optimizer.lr"]))
    #expect(error.description.contains("key.path=value"))
}

@Test func nullOverrideRestoresTheDefault() throws {
    let yaml = TestConfigs.minimal + "\ndata:\n  oversample: {head: colour}"
    let config = try TestConfigs.parse(yaml, overrides: ["data.oversample=null"])
    #expect(config.data.oversample == nil)
}

/// A misspelt section in `--set` is the override's fault, not the file's: the file never
/// wrote `traning`, the override made it.
@Test func overrideOfUnknownSectionBlamesTheOverride() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["traning.lr=1"]))
    #expect(error.source == "--set traning.lr=1")
    #expect(error.line == nil)
    #expect(error.description == "--set traning.lr=1: unknown key 'traning' (did you mean 'training'?)")
}

/// The same misspelling written in the file is blamed on the file, with its line, even
/// when an override also reaches into it.
@Test func unknownSectionInTheFileBlamesTheFileAndLine() throws {
    let yaml = TestConfigs.minimal + "\ntraning:\n  lr: 1\n"
    let error = try #require(TestConfigs.error(yaml, overrides: ["traning.lr=2"]))
    #expect(error.source == "test.yaml", "\(error)")
    #expect(error.line == yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == "traning:" }.map { $0 + 1 })
    #expect(error.description.contains("unknown key 'traning' (did you mean 'training'?)"))
}

/// A misspelt key inside a section the file has: the override made the key.
@Test func overrideOfUnknownKeyInAFileSectionBlamesTheOverride() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["training.batch_sise=4"]))
    #expect(error.source == "--set training.batch_sise=4")
    #expect(error.description.contains("unknown key 'training.batch_sise' (did you mean 'batch_size'?)"))
}
