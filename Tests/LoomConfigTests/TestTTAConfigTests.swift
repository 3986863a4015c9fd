// training.test_tta parses, defaults to off, and needs views in data.tta.

import LoomConfig
import Testing

@Test func testTTAIsReadAndDefaultsToOff() throws {
    #expect(try TestConfigs.parse(TestConfigs.minimal).training.testTTA == false)
    let config = try TestConfigs.parse(TestConfigs.minimal, overrides: ["training.test_tta=true", "data.tta=[identity, hflip]"])
    #expect(config.training.testTTA)
    #expect(config.data.tta == ["identity", "hflip"])
}

@Test func testTTAWithoutViewsIsAnErrorNamingBothKeys() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["training.test_tta=true"]))
    #expect(error.description.contains("'training.test_tta' is true but 'data.tta' lists no views"))
    let notABool = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["training.test_tta=often"]))
    #expect(notABool.description.contains("test_tta"))
}
