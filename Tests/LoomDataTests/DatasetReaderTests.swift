import Foundation
import LoomData
import LoomHDF5
import LoomTestSupport
import Testing

@Suite struct DatasetReaderTests {
    /// A small imported dataset (train 30, test 20) in a temporary directory.
    func withDataset(_ body: (String) throws -> Void) throws {
        let dir = try SyntheticIDX.directory(train: 30, test: 20)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("fm.h5").path
        try FashionMNISTImporter.import(source: dir.path, output: path, expectedCounts: false)
        try body(path)
    }

    @Test func readImagesByArbitraryIndicesEqualsTheFullRead() throws {
        try withDataset { path in
            let split = try Dataset(path: path).split("train")
            let all = try split.readImages(indices: Array(0..<split.count))
            let picks = [17, 3, 4, 5, 29, 0, 3]
            let some = try split.readImages(indices: picks)
            for (k, i) in picks.enumerated() {
                #expect(Array(some[(k * 784)..<((k + 1) * 784)]) == Array(all[(i * 784)..<((i + 1) * 784)]))
            }
        }
    }

    @Test func streamedReadsEqualResidentReads() throws {
        try withDataset { path in
            let resident = try Dataset(path: path).split("train")
            let streamed = try Dataset(path: path, residentLimit: 0).split("train")
            #expect(resident.isResident && !streamed.isResident)
            let picks = [9, 10, 11, 2, 29, 28, 5, 5]
            #expect(try streamed.readImages(indices: picks) == resident.readImages(indices: picks))
        }
    }

    @Test func storedFingerprintMatchesRecomputedContentHash() throws {
        try withDataset { path in
            let ds = try Dataset(path: path)
            #expect(try ds.computeFingerprint() == ds.fingerprint)
            #expect(ds.fingerprint.count == 16)
        }
    }

    @Test func indexOutsideTheSplitIsAnError() throws {
        try withDataset { path in
            let split = try Dataset(path: path).split("test")
            let error = #expect(throws: DatasetError.self) { try split.readImages(indices: [0, 20]) }
            #expect(error?.description.contains("sample index 20 outside 0..<20 of split 'test'") == true)
        }
    }

    @Test func missingSplitIsAnErrorNamingFileAndSplit() throws {
        try withDataset { path in
            let error = #expect(throws: DatasetError.self) { try Dataset(path: path).split("validation") }
            #expect(error?.description.hasPrefix(path) == true)
            #expect(error?.description.contains("/validation") == true)
        }
    }

    @Test func missingLabelsAreAnErrorAndMissingTargetsAreNil() throws {
        try withDataset { path in
            let split = try Dataset(path: path).split("train")
            let error = #expect(throws: DatasetError.self) { try split.labels("colour") }
            #expect(error?.description.contains("/train/labels/colour") == true)
            #expect(try split.targets("colour") == nil)
        }
    }

    @Test func missingFileIsAnError() {
        #expect(throws: DatasetError.fileNotFound(file: "/nonexistent/x.h5")) { try Dataset(path: "/nonexistent/x.h5") }
    }

    @Test func fileWithoutFingerprintIsALayoutError() throws {
        let dir = try TestPaths.temporaryDirectory("loomdata-layout")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bare.h5").path
        let file = try HDF5File.create(path)
        try file.root.write([UInt8](repeating: 0, count: 4), shape: [1, 2, 2, 1], to: "train/images")
        try file.root.setAttribute("name", "bare")
        file.close()
        let error = #expect(throws: DatasetError.self) { try Dataset(path: path) }
        #expect(error == .missingObject(file: path, object: "root attribute 'fingerprint'"))
    }

    @Test func labelOutsideDeclaredClassesIsALayoutError() throws {
        try withDataset { path in
            let file = try HDF5File.open(path, mode: .readWrite)
            try file.root.write([Int32](repeating: 12, count: 20), shape: [20], to: "test/labels/category")
            file.close()
            let split = try Dataset(path: path).split("test")
            let error = #expect(throws: DatasetError.self) { try split.labels("category") }
            #expect(error?.description.contains("/test/labels/category") == true)
        }
    }

    @Test func imagesOfWrongRankAreALayoutError() throws {
        try withDataset { path in
            let file = try HDF5File.open(path, mode: .readWrite)
            try file.root.write([UInt8](repeating: 0, count: 20 * 784), shape: [20, 784], to: "test/images")
            file.close()
            let error = #expect(throws: DatasetError.self) { try Dataset(path: path).split("test") }
            #expect(error?.description.contains("/test/images") == true)
        }
    }
}
