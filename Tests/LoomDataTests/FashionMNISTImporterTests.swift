import Foundation
import LoomData
import LoomTestSupport
import LoomHDF5
import Testing

@Suite struct FashionMNISTImporterTests {
    let importedFiles = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                         "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]

    func importing(_ dir: URL) throws(DatasetError) -> DatasetSummary {
        try FashionMNISTImporter.import(source: dir.path, output: dir.appendingPathComponent("out/fm.h5").path,
                                        expectedCounts: false)
    }

    @Test func validFilesImportWithLayoutAndLabels() throws {
        let dir = try SyntheticIDX.directory(train: 30, test: 20)
        defer { try? FileManager.default.removeItem(at: dir) }
        let summary = try importing(dir)
        #expect(summary.splits == ["train": 30, "test": 20])
        let ds = try Dataset(path: summary.path)
        #expect(ds.name == "fashion-mnist")
        #expect(ds.fingerprint == summary.fingerprint)
        #expect(ds.attributes == [AttributeInfo(name: "category", kind: .softmax, classNames: [
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"])])
        let train = try ds.split("train")
        #expect(train.imageShape == ImageShape(height: 28, width: 28, channels: 1))
        #expect(try train.labels("category") == (0..<30).map { Int32($0 % 10) })
        #expect(try train.readImages(indices: Array(0..<30)) == SyntheticIDX.images(count: 30))
    }

    @Test func wrongMagicIsAnErrorNamingTheFile() throws {
        let dir = try SyntheticIDX.directory { name, bytes in
            if name == "train-labels-idx1-ubyte.gz" { bytes[3] = 0x03 }
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: DatasetError.self) { try importing(dir) }
        #expect(error?.description.contains("train-labels-idx1-ubyte.gz") == true)
        #expect(error?.description.contains("magic number 2051, expected 2049") == true)
    }

    @Test func truncatedDataIsAnErrorNamingTheFile() throws {
        let dir = try SyntheticIDX.directory { name, bytes in
            if name == "t10k-images-idx3-ubyte.gz" { bytes.removeLast(100) }
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: DatasetError.self) { try importing(dir) }
        #expect(error?.description.contains("t10k-images-idx3-ubyte.gz") == true)
        #expect(error?.description.contains("truncated") == true)
    }

    @Test func cutOffGzipStreamIsAnError() throws {
        let dir = try SyntheticIDX.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("train-images-idx3-ubyte.gz")
        let bytes = try Data(contentsOf: file)
        try bytes.prefix(bytes.count / 2).write(to: file)
        let error = #expect(throws: DatasetError.self) { try importing(dir) }
        #expect(error?.description.contains("train-images-idx3-ubyte.gz") == true)
    }

    @Test func imageAndLabelCountMismatchIsAnError() throws {
        let dir = try SyntheticIDX.directory { name, bytes in
            if name == "train-labels-idx1-ubyte.gz" {
                bytes = SyntheticIDX.idx(magic: 2049, dims: [29], data: SyntheticIDX.labels(count: 29))
            }
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: DatasetError.self) { try importing(dir) }
        #expect(error?.description.contains("train-labels-idx1-ubyte.gz: 29 labels for the 30 images") == true)
    }

    @Test func labelOutsideTenClassesIsAnError() throws {
        let dir = try SyntheticIDX.directory { name, bytes in
            if name == "t10k-labels-idx1-ubyte.gz" { bytes[bytes.count - 1] = 10 }
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: DatasetError.self) { try importing(dir) }
        #expect(error == .labelOutOfRange(file: dir.path + "/t10k-labels-idx1-ubyte.gz", index: 19, value: 10, classes: 10))
    }

    @Test func missingFileIsAnErrorNamingIt() throws {
        let dir = try SyntheticIDX.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        let error = #expect(throws: DatasetError.self) { try importing(dir) }
        #expect(error == .fileNotFound(file: dir.path + "/t10k-images-idx3-ubyte.gz"))
    }

    @Test func failedReadLeavesNoOutputBehind() throws {
        let dir = try SyntheticIDX.directory { name, bytes in
            if name == "t10k-images-idx3-ubyte.gz" { bytes.removeLast(1) }
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: DatasetError.self) { try importing(dir) }
        #expect(SyntheticIDX.contents(dir.appendingPathComponent("out")).isEmpty)
        #expect(SyntheticIDX.contents(dir) == importedFiles)
    }

    @Test func failedWriteRemovesTheTemporaryFile() throws {
        let dir = try SyntheticIDX.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The output path is a non-empty directory: the final rename must fail.
        let blocked = dir.appendingPathComponent("out/fm.h5")
        try FileManager.default.createDirectory(at: blocked.appendingPathComponent("keep"), withIntermediateDirectories: true)
        let error = #expect(throws: DatasetError.self) { try importing(dir) }
        #expect(error?.description.contains("cannot rename") == true)
        #expect(SyntheticIDX.contents(dir.appendingPathComponent("out")) == ["fm.h5"])
    }

    @Test func officialCountsAreRequiredByDefault() throws {
        let dir = try SyntheticIDX.directory(train: 30, test: 20)
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: DatasetError.self) {
            try FashionMNISTImporter.import(source: dir.path, output: dir.appendingPathComponent("fm.h5").path)
        }
        #expect(error?.description.contains("60000") == true)
    }

    @Test func fingerprintDependsOnContent() throws {
        let a = try SyntheticIDX.directory()
        let b = try SyntheticIDX.directory { name, bytes in
            if name == "train-images-idx3-ubyte.gz" { bytes[100] ^= 1 }
        }
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        #expect(try importing(a).fingerprint != importing(b).fingerprint)
        #expect(try importing(a).fingerprint == importing(a).fingerprint)
    }
}
