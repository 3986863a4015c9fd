// Multilabel and binary heads against datasets that do not fit them: every error names the
// head and the file (and the object or key at fault).

import Foundation
import Logging
import LoomConfig
import LoomData
import LoomTestSupport
import LoomTraining
import Testing

@Suite(.serialized) struct MultilabelErrorTests {
    /// Writes a 32-sample dataset (train and test) with `category` labels, the given
    /// attribute declarations and per-split targets; returns its path.
    func dataset(_ dir: URL, attributes: [AttributeInfo], train: [String: DatasetBuilder.Targets],
                 test: [String: DatasetBuilder.Targets]? = nil) throws -> String {
        var b = DatasetBuilder(name: "small", imageShape: ImageShape(height: 28, width: 28, channels: 1))
        b.declare(AttributeInfo(name: "category", kind: .softmax, classNames: ["a", "b", "c"]))
        for a in attributes { b.declare(a) }
        let images = (0..<(32 * 784)).map { UInt8($0 % 251) }
        let labels = (0..<32).map { Int32($0 % 3) }
        try b.addSplit("train", images: images, labels: ["category": labels], targets: train)
        try b.addSplit("test", images: images, labels: ["category": labels], targets: test ?? train)
        let path = dir.appendingPathComponent("data.h5").path
        try b.write(to: path)
        return path
    }

    func tags(k: Int = 5, _ value: (Int) -> Float = { Float($0 % 2) }) -> DatasetBuilder.Targets {
        DatasetBuilder.Targets(k: k, values: (0..<(32 * k)).map(value))
    }

    func names(_ k: Int) -> [String] { (0..<k).map { "t\($0)" } }

    /// The error of setting up a run with `head` (YAML flow mapping) on `path`.
    func setupError(_ path: String, head: String, extra: [String] = []) throws -> String {
        let yaml = """
            name: bad
            data: {path: \(path)}
            model: {input: [1, 28, 28], layers: [{kind: flatten}, {kind: linear, name: l1, out: 8}]}
            heads: [{name: category, kind: softmax}, \(head)]
            training: {batch_size: 16, micro_batch: 8}
            """
        let config = try ConfigLoader.parse(yaml: yaml, source: "bad.yaml", overrides: extra, defaultName: "bad")
        do {
            let run = try TrainingRun(config: config, dataset: try Dataset(path: path), logger: Logger(label: "test"))
            _ = try Evaluation.run(split: "test", indices: Array(0..<32), dataset: run.dataset, state: run.state,
                                   executor: LocalExecutor(problem: run.problem, dataset: run.dataset))
        } catch {
            return "\(error)"
        }
        Issue.record("no error")
        return ""
    }

    @Test func aMultilabelHeadWithoutTargetsNamesTheHeadFileAndObject() throws {
        let dir = try TestPaths.temporaryDirectory("loom-ml-errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try dataset(dir, attributes: [AttributeInfo(name: "tags", kind: .multilabel, classNames: names(5))],
                               train: [:])
        let message = try setupError(path, head: "{name: tags, kind: multilabel}")
        #expect(message.contains("head 'tags'") && message.contains(path) && message.contains("/train/targets/tags"), "\(message)")
    }

    @Test func aTargetWidthThatDisagreesWithTheClassNamesIsAnError() throws {
        let dir = try TestPaths.temporaryDirectory("loom-ml-errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try dataset(dir, attributes: [AttributeInfo(name: "tags", kind: .multilabel, classNames: names(4))],
                               train: ["tags": tags()])
        let message = try setupError(path, head: "{name: tags, kind: multilabel}")
        #expect(message.contains("head 'tags'") && message.contains(path) && message.contains("K = 5")
                && message.contains("4 class_names"), "\(message)")
    }

    @Test func aConfiguredClassCountThatDisagreesWithTheTargetsIsAnError() throws {
        let dir = try TestPaths.temporaryDirectory("loom-ml-errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try dataset(dir, attributes: [AttributeInfo(name: "tags", kind: .multilabel, classNames: names(5))],
                               train: ["tags": tags()])
        let message = try setupError(path, head: "{name: tags, kind: multilabel, classes: 4}")
        #expect(message.contains("head 'tags'") && message.contains("4 classes") && message.contains("has 5"), "\(message)")
    }

    @Test func aTestSplitWithAnotherTargetWidthIsAnErrorAtEvaluation() throws {
        let dir = try TestPaths.temporaryDirectory("loom-ml-errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try dataset(dir, attributes: [AttributeInfo(name: "tags", kind: .multilabel, classNames: names(5))],
                               train: ["tags": tags()], test: ["tags": tags(k: 4)])
        let message = try setupError(path, head: "{name: tags, kind: multilabel}")
        #expect(message.contains("head 'tags'") && message.contains(path) && message.contains("/test/targets/tags")
                && message.contains("K = 4"), "\(message)")
    }

    @Test func aTargetOutsideZeroToOneIsAnErrorNamingTheElement() throws {
        let dir = try TestPaths.temporaryDirectory("loom-ml-errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try dataset(dir, attributes: [AttributeInfo(name: "tags", kind: .multilabel, classNames: names(5))],
                               train: ["tags": tags { $0 == 13 ? 2 : 0 }])
        let message = try setupError(path, head: "{name: tags, kind: multilabel}")
        #expect(message.contains("head 'tags'") && message.contains("/train/targets/tags[2, 3] is 2.0"), "\(message)")
    }

    @Test func aBinaryHeadReadsAZeroOneTargetColumnAsLabels() throws {
        let dir = try TestPaths.temporaryDirectory("loom-ml-errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let values: (Int) -> Float = { i in i % 5 == 0 ? .nan : i % 7 == 0 ? -1 : Float(i % 2) }
        let path = try dataset(dir, attributes: [AttributeInfo(name: "sale", kind: .binary, classNames: ["no", "yes"])],
                               train: ["sale": tags(k: 1, values)])
        let dataset = try Dataset(path: path)
        let head = ResolvedHead(name: "sale", kind: .binary, attribute: "sale", classes: 2, classNames: ["no", "yes"],
                                classWeights: nil)
        let truth = try GroundTruth.read(try dataset.split("train"), heads: [head])
        let expected: [Int32] = (0..<32).map { (i: Int) -> Int32 in i % 5 == 0 || i % 7 == 0 ? -1 : Int32(i % 2) }
        #expect(truth.labels[0] == expected)
        #expect(truth.targets[0].isEmpty)

        let soft = try self.dataset(dir, attributes: [AttributeInfo(name: "sale", kind: .binary, classNames: ["no", "yes"])],
                                    train: ["sale": tags(k: 1) { Float($0 % 3) / 2 }])
        let message = try setupError(soft, head: "{name: sale, kind: binary}")
        #expect(message.contains("head 'sale' (binary)") && message.contains("must be 0, 1 or missing"), "\(message)")
    }

    @Test func oversamplingAMultilabelHeadIsAConfigError() throws {
        let yaml = """
            name: bad
            model: {input: [1, 28, 28], layers: [{kind: flatten}, {kind: linear, name: l1, out: 8}]}
            heads: [{name: tags, kind: multilabel}]
            data: {oversample: {head: tags, target: sqrt}}
            """
        #expect {
            try ConfigLoader.parse(yaml: yaml, source: "bad.yaml", defaultName: "bad")
        } throws: { error in
            let text = "\(error)"
            return text.contains("bad.yaml") && text.contains("data.oversample.head") && text.contains("multilabel")
        }
    }

    @Test func classWeightsOnAMultilabelHeadAreAConfigError() throws {
        let yaml = """
            name: bad
            model: {input: [1, 28, 28], layers: [{kind: flatten}, {kind: linear, name: l1, out: 8}]}
            heads: [{name: tags, kind: multilabel, loss: {class_weights: inverse_frequency}}]
            """
        #expect {
            try ConfigLoader.parse(yaml: yaml, source: "bad.yaml", defaultName: "bad")
        } throws: { error in
            "\(error)".contains("heads.0.loss.class_weights") && "\(error)".contains("pos_weight")
        }
    }
}
