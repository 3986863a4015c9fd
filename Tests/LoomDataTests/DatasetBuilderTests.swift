// DatasetBuilder: what it writes reads back through Dataset, targets included.

import Foundation
import LoomData
import LoomTestSupport
import Testing

@Suite struct DatasetBuilderTests {
    @Test func aBuiltDatasetReadsBackWithItsLabelsTargetsAndFingerprint() throws {
        let dir = try TestPaths.temporaryDirectory("loom-builder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sub/built.h5").path
        let summary = try MultilabelDataset.write(to: path, train: 40, test: 8)
        #expect(summary.splits == ["train": 40, "test": 8])

        let dataset = try Dataset(path: path)
        #expect(dataset.attributes.map(\.name) == ["category", "tags"])
        #expect(dataset.attributes[1].kind == .multilabel && dataset.attributes[1].classNames == MultilabelDataset.tagNames)
        #expect(dataset.fingerprint == summary.fingerprint)
        #expect(try dataset.computeFingerprint() == dataset.fingerprint)

        let train = try dataset.split("train")
        let expected = MultilabelDataset.generate("train", count: 40, seed: 5)
        #expect(train.path == path)
        #expect(train.targetNames == ["tags"] && train.targetWidth("tags") == 5 && train.targetWidth("category") == nil)
        let targets = try #require(try train.targets("tags"))
        #expect(targets.k == 5)
        #expect(targets.values.map(\.bitPattern) == expected.tags.map(\.bitPattern))
        #expect(try train.labels("category") == expected.category)
        #expect(try train.readImages(indices: [7]) == Array(expected.images[(7 * 784)..<(8 * 784)]))
    }

    @Test func theMissingValueMarkerChangesTheFingerprint() throws {
        let dir = try TestPaths.temporaryDirectory("loom-builder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try MultilabelDataset.write(to: dir.appendingPathComponent("a.h5").path, train: 16, test: 4)
        let b = try MultilabelDataset.write(to: dir.appendingPathComponent("b.h5").path, train: 16, test: 4, missing: -1)
        #expect(a.fingerprint != b.fingerprint)
    }

    @Test func rowsThatDoNotMatchTheImagesAreRefused() throws {
        var b = DatasetBuilder(name: "bad", imageShape: ImageShape(height: 2, width: 2, channels: 1))
        #expect(throws: DatasetError.self) {
            try b.addSplit("train", images: [UInt8](repeating: 0, count: 12), labels: ["x": [0, 1]])
        }
        #expect(throws: DatasetError.self) {
            try b.addSplit("train", images: [UInt8](repeating: 0, count: 12),
                           targets: ["t": DatasetBuilder.Targets(k: 2, values: [0, 1, 0, 1])])
        }
        #expect(throws: DatasetError.self) { try b.write(to: "/tmp/never-written.h5") }
    }
}
