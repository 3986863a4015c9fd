// `model.convolution`: auto by default, direct on request, anything else an error that
// names the key and the allowed values.

import LoomConfig
import Testing

@Test func convolutionDefaultsToAuto() throws {
    #expect(try TestConfigs.parse(TestConfigs.minimal).model.convolution == .auto)
}

@Test func convolutionDirectIsRead() throws {
    let config = try TestConfigs.parse(TestConfigs.minimal, overrides: ["model.convolution=direct"])
    #expect(config.model.convolution == .direct)
}

@Test func unknownConvolutionListsTheChoices() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["model.convolution=winograd"]))
    #expect(error.description.contains("'model.convolution' has unknown value 'winograd' (allowed: auto, direct)"))
}
