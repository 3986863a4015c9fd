// data.augment.erasing parses, defaults, and rejects bad values with the key and line.

import LoomConfig
import Testing

@Test func erasingSectionIsRead() throws {
    let yaml = TestConfigs.minimal + "\ndata:\n  augment:\n    erasing: {p: 0.25, scale: [0.05, 0.2], ratio: [0.5, 2]}"
    let e = try #require(try TestConfigs.parse(yaml).data.augment.erasing)
    #expect(e.p == 0.25 && e.scale == [0.05, 0.2] && e.ratio == [0.5, 2])
}

@Test func erasingDefaultsAreZhongEtAl() throws {
    let config = try TestConfigs.parse(TestConfigs.minimal, overrides: ["data.augment.erasing.p=0.5"])
    let e = try #require(config.data.augment.erasing)
    #expect(e.p == 0.5 && e.scale == [0.02, 0.33] && e.ratio == [0.3, 3.3])
    #expect(!config.data.augment.isIdentity)
    #expect(try TestConfigs.parse(TestConfigs.minimal).data.augment.erasing == nil)
}

@Test func erasingScaleMustBeAnOrderedPairInTheUnitInterval() throws {
    for bad in ["[0.3, 0.1]", "[0.1, 1.5]", "[0.1]"] {
        let yaml = TestConfigs.minimal + "\ndata:\n  augment:\n    erasing: {scale: \(bad)}"
        let error = try #require(TestConfigs.error(yaml), "scale \(bad) accepted")
        #expect(error.line == 14)
        #expect(error.description.contains("'data.augment.erasing.scale' must be [min, max]"))
    }
}

@Test func erasingBadProbabilityRatioOrKeyIsAnError() throws {
    let p = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["data.augment.erasing.p=1.5"]))
    #expect(p.description.contains("'data.augment.erasing.p' must be a number in [0, 1]"))
    let ratio = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["data.augment.erasing.ratio=[0, 2]"]))
    #expect(ratio.description.contains("'data.augment.erasing.ratio.0' must be a positive number"))
    let key = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["data.augment.erasing.value=0"]))
    #expect(key.description.contains("unknown key 'data.augment.erasing.value'"))
}
