// Every size a config holds is bounded when it is read (ConfigLimits, docs/CONFIG.md
// "Limits"): the error names the key, its line or `--set`, and the limit.

import LoomConfig
import Testing

@Test func aLayerWidthOfATrillionIsAnErrorNamingTheKey() throws {
    let yaml = TestConfigs.minimal.replacingOccurrences(of: "out: 16", with: "out: 1000000000000")
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.keyPath == "model.layers.1.out")
    #expect(error.line == 6)
    #expect(error.message == "'model.layers.1.out' must be a positive integer ≤ \(ConfigLimits.width), got '1000000000000'")
}

@Test func aWidthOverrideOutOfBoundsNamesTheOverride() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["model.layers.1.out=4611686018427387904"]))
    #expect(error.source == "--set model.layers.1.out=4611686018427387904")
    #expect(error.keyPath == "model.layers.1.out")
}

@Test func aBatchOfFourTrillionIsAnError() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["training.batch_size=4000000000000"]))
    #expect(error.keyPath == "training.batch_size")
    #expect(error.description.contains("≤ \(ConfigLimits.batch)"))
}

@Test func numbersPastSixtyFourBitsAreErrorsNotTraps() throws {
    for value in ["9223372036854775808", "18446744073709551616", "-9223372036854775809", "1e400"] {
        let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["model.layers.1.out=\(value)"]))
        #expect(error.keyPath == "model.layers.1.out", "\(value)")
    }
}

@Test func windowsAndInputSidesAreBounded() throws {
    let conv = TestConfigs.minimal.replacingOccurrences(of: "- {kind: flatten}",
                                                        with: "- {kind: conv2d, name: c, out: 4}\n    - {kind: flatten}")
    for (override, key) in [("model.layers.0.kernel=5000", "model.layers.0.kernel"),
                            ("model.layers.0.padding=99999", "model.layers.0.padding"),
                            ("model.input=[1, 28, 70000]", "model.input.2")] {
        let error = try #require(TestConfigs.error(conv, overrides: [override]))
        #expect(error.keyPath == key, "\(override)")
    }
}

@Test func timeoutsLongerThanADayAreErrors() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["cluster.worker_timeout_ms=9000000000000000000"]))
    #expect(error.keyPath == "cluster.worker_timeout_ms")
    #expect(error.description.contains("≤ \(ConfigLimits.milliseconds)"))
}

@Test func valuesAtTheLimitsAreAccepted() throws {
    let config = try TestConfigs.parse(TestConfigs.minimal, overrides: [
        "model.layers.1.out=\(ConfigLimits.width)", "training.batch_size=\(ConfigLimits.batch)",
        "training.micro_batch=16", "training.seed=9223372036854775807",
    ])
    #expect(config.model.layers[1].out == ConfigLimits.width)
    #expect(config.training.batchSize == ConfigLimits.batch)
    #expect(config.training.seed == UInt64(Int.max))
}
