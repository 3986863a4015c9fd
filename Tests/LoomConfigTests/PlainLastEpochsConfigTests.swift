// data.augment.plain_last_epochs parses, defaults to 0, and is checked against training.epochs.

import LoomConfig
import Testing

@Test func plainLastEpochsIsReadAndDefaultsToZero() throws {
    #expect(try TestConfigs.parse(TestConfigs.minimal).data.augment.plainLastEpochs == 0)
    let config = try TestConfigs.parse(TestConfigs.minimal, overrides: [
        "training.epochs=15", "data.augment.crop_padding=2", "data.augment.plain_last_epochs=1",
    ])
    #expect(config.data.augment.plainLastEpochs == 1)
    #expect(config.data.augment.cropPadding == 2)
}

@Test func plainLastEpochsMustBeAWholeNumberUpToTheRunsEpochs() throws {
    let negative = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["data.augment.plain_last_epochs=-1"]))
    #expect(negative.description.contains("'data.augment.plain_last_epochs'"))
    let tooMany = try #require(TestConfigs.error(TestConfigs.minimal, overrides: [
        "training.epochs=3", "data.augment.plain_last_epochs=4",
    ]))
    #expect(tooMany.description.contains("'data.augment.plain_last_epochs' is 4, more than the run's 3 epochs"))
    // All of them is allowed: a run without augmentation, written another way.
    #expect(TestConfigs.error(TestConfigs.minimal, overrides: ["training.epochs=3", "data.augment.plain_last_epochs=3"]) == nil)
}
