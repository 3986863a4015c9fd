// Bad configs fail with one line naming the file, the 1-based line and the key path.

import Foundation
import LoomConfig
import Testing

@Test func unknownKeyNamesLineKeyAndSuggestion() throws {
    let yaml = TestConfigs.minimal + "\n  momentun: 0.9"   // line 12, under optimizer
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.description == "test.yaml:12: unknown key 'optimizer.momentun' (did you mean 'momentum'?)")
}

@Test func unknownTopLevelSectionIsAnError() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal + "\ntrainig:\n  epochs: 3"))
    #expect(error.line == 12)
    #expect(error.description.contains("unknown key 'trainig' (did you mean 'training'?)"))
}

@Test func wrongTypeNamesLineKeyAndValue() throws {
    let yaml = TestConfigs.minimal.replacingOccurrences(of: "batch_size: 64", with: "batch_size: abc")
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.description == "test.yaml:8: 'training.batch_size' must be a positive integer, got 'abc'")
}

@Test func negativeSizeIsAnError() throws {
    let yaml = TestConfigs.minimal.replacingOccurrences(of: "out: 16", with: "out: -16")
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.description == "test.yaml:6: 'model.layers.1.out' must be a positive integer, got '-16'")
}

@Test func fractionOutsideHalfOpenUnitIntervalIsAnError() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal + "\ndata:\n  validation_fraction: 1.0"))
    #expect(error.description == "test.yaml:13: 'data.validation_fraction' must be a number in [0, 1), got '1.0'")
}

@Test func unknownEnumValueListsTheAllowedOnes() throws {
    let yaml = TestConfigs.minimal.replacingOccurrences(of: "lr: 0.1", with: "kind: adagrad")
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.description == "test.yaml:11: 'optimizer.kind' has unknown value 'adagrad' (allowed: sgd, adam, adamw)")
}

@Test func unknownLayerKindNamesTheLayer() throws {
    let yaml = TestConfigs.minimal.replacingOccurrences(of: "kind: flatten", with: "kind: flaten")
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.line == 5)
    #expect(error.keyPath == "model.layers.0.kind")
}

@Test func keyThatTheLayerKindDoesNotUseIsAnError() throws {
    let yaml = TestConfigs.minimal.replacingOccurrences(of: "{kind: flatten}", with: "{kind: flatten, p: 0.5}")
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.description.hasPrefix("test.yaml:5: unknown key 'model.layers.0.p'"))
}

@Test func microBatchThatDoesNotDivideBatchSizeIsAnError() throws {
    let yaml = TestConfigs.minimal.replacingOccurrences(of: "batch_size: 64", with: "batch_size: 128")
        .replacingOccurrences(of: "micro_batch: 16", with: "micro_batch: 48")
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.description
            == "test.yaml:9: training.batch_size (128) must be a multiple of training.micro_batch (48)")
}

@Test func missingIncludeFileNamesTheFileAndKey() throws {
    let yaml = "name: x\nmodel:\n  file: models/nowhere.yaml\n"
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.line == 3)
    #expect(error.keyPath == "model.file")
    #expect(error.description.contains("models/nowhere.yaml"))
}

@Test func errorInsideTheModelFileNamesTheModelFileAndLine() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loomconfig-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = "input: [1, 28, 28]\nlayers:\n  - {kind: flatten}\n  - {kind: linear, name: l1, out: 0}\n"
    try model.write(to: dir.appendingPathComponent("m.yaml"), atomically: true, encoding: .utf8)
    let config = dir.appendingPathComponent("run.yaml")
    try "model:\n  file: m.yaml\n".write(to: config, atomically: true, encoding: .utf8)
    let error = try #require(throws: ConfigError.self) { try ConfigLoader.load(path: config.path) }
    #expect(error.source == dir.appendingPathComponent("m.yaml").path)
    #expect(error.line == 4)
    #expect(error.keyPath == "model.layers.1.out")
}

@Test func duplicateHeadNamesAreAnError() throws {
    let yaml = TestConfigs.minimal + """

        heads:
          - {name: color, classes: 5}
          - {name: color, kind: multilabel}
        """
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.line == 14)
    #expect(error.description.contains("head name 'color' is used twice"))
}

@Test func duplicateLayerNamesAreAnError() throws {
    let yaml = TestConfigs.minimal.replacingOccurrences(of: "{kind: flatten}", with: "{kind: linear, name: l1, out: 4}")
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.line == 6)
    #expect(error.keyPath == "model.layers.1.name")
}

@Test func yamlSyntaxErrorNamesTheLine() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal + "\ncluster: [heartbeat_ms: 1"))
    #expect(error.source == "test.yaml")
    #expect(error.line != nil)
    #expect(error.description.contains("invalid YAML"))
}

@Test func missingModelIsAnError() throws {
    let error = try #require(TestConfigs.error("name: x\ntraining:\n  epochs: 1\n"))
    #expect(error.description == "test.yaml:1: 'model' is required")
}

@Test func unreadableConfigFileIsAnError() throws {
    let error = try #require(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/run.yaml") }
    #expect(error.source == "/nonexistent/run.yaml")
}

@Test func oversamplingAnUnknownHeadIsAnError() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal + "\ndata:\n  oversample: {head: colour}"))
    #expect(error.line == 13)
    #expect(error.description.contains("'data.oversample.head' 'colour' is not a head (heads: category)"))
}

@Test func classWeightCountMustMatchTheHeadsClasses() throws {
    let yaml = TestConfigs.minimal + "\nheads:\n  - {name: category, classes: 3, loss: {class_weights: [1, 2]}}"
    let error = try #require(TestConfigs.error(yaml))
    #expect(error.line == 13)
    #expect(error.keyPath == "heads.0.loss.class_weights")
}
