// Data verified, not trusted: files Loom writes carry Fletcher-32 chunk checksums on every
// array, a changed chunk is a typed error naming file and dataset, the fingerprint is
// recomputed from the content (not read from the attribute), and a file that verified is
// remembered by its identity on disk until it changes.

import Foundation
import LoomData
import LoomHDF5
import LoomTestSupport
import Testing

@Suite struct VerifiedDataTests {
    /// A written dataset (images, labels, targets) in a fresh directory.
    func withDataset(_ body: (URL, String) throws -> Void) throws {
        let dir = try TestPaths.temporaryDirectory("loom-verified")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("data.h5").path
        try MultilabelDataset.write(to: path, train: 300, test: 20)
        try body(dir, path)
    }

    /// Flips every bit of the byte at `offset` of `path`.
    func flipByte(at offset: Int, of path: String) throws {
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.seek(toOffset: UInt64(offset))
        let b = try h.read(upToCount: 1)![0]
        try h.seek(toOffset: UInt64(offset))
        try h.write(contentsOf: [~b])
    }

    func chunk(_ object: String, _ index: Int, of path: String) throws -> HDF5Chunk {
        let f = try HDF5File.open(path)
        defer { f.close() }
        return try f.root.chunks(of: object)[index]
    }

    @Test func everyArrayOfAWrittenDatasetHasChunkChecksums() throws {
        try withDataset { _, path in
            let ds = try Dataset(path: path)
            #expect(try ds.checksumCoverage() == .every)
            let f = try HDF5File.open(path)
            defer { f.close() }
            for a in ["train/images", "train/labels/category", "train/targets/tags", "test/images"] {
                #expect(try f.root.storage(of: a).isChecksummed, "\(a)")
            }
        }
    }

    @Test(arguments: [0, DatasetSplit.defaultResidentLimit])
    func aCorruptImageChunkIsATypedErrorNamingFileAndDataset(residentLimit: Int) throws {
        try withDataset { _, path in
            let c = try chunk("train/images", 1, of: path)   // rows 128..<256
            try flipByte(at: c.fileOffset + c.size / 3, of: path)
            let split = try Dataset(path: path, residentLimit: residentLimit).split("train")
            let error = #expect(throws: DatasetError.self) { _ = try split.readImages(indices: [3, 130]) }
            guard case .corrupt(let file, let object, _)? = error else {
                Issue.record("expected .corrupt, got \(String(describing: error))"); return
            }
            #expect(file == path && object == "/train/images")
            #expect(error?.description.contains("checksum") == true)
            if residentLimit == 0 {   // streamed: the intact chunk still serves its rows
                #expect(try split.readImages(indices: [3, 4]).count == 2 * 784)
            }
        }
    }

    @Test func aCorruptLabelChunkIsATypedError() throws {
        try withDataset { _, path in
            let c = try chunk("train/labels/category", 0, of: path)
            try flipByte(at: c.fileOffset + 2, of: path)
            let error = #expect(throws: DatasetError.self) { _ = try Dataset(path: path).split("train").labels("category") }
            guard case .corrupt(_, let object, _)? = error else { Issue.record("\(String(describing: error))"); return }
            #expect(object == "/train/labels/category")
        }
    }

    @Test func theRecomputedFingerprintIsTheStoredOne() throws {
        try withDataset { _, path in
            let check = try Dataset(path: path).checkFingerprint()
            #expect(check.matches && check.computed == check.stored)
            #expect(check.bytes == 320 * 784 + 320 * 4 + 320 * 5 * 4)
        }
    }

    @Test func imagesChangedUnderAKeptFingerprintAreRefused() throws {
        try withDataset { _, path in
            let stored = try Dataset(path: path).fingerprint
            // Rewrite the train images inverted, checksums and all: only the fingerprint can tell.
            do {
                let f = try HDF5File.open(path, mode: .readWrite)
                defer { f.close() }
                let images = try f.root.read(UInt8.self, "train/images")
                try f.root.write(images.values.map { ~$0 }, shape: images.shape, to: "train/images", chunkRows: 128,
                                 compressionLevel: 4, checksum: true)
            }
            let ds = try Dataset(path: path)
            #expect(ds.fingerprint == stored)
            let error = #expect(throws: DatasetError.self) { try DatasetVerifier(cache: nil).verify(ds) }
            #expect(error == .fingerprintMismatch(file: path, stored: stored, computed: try ds.checkFingerprint().computed))
            #expect(error?.description.contains("does not match its fingerprint") == true)
        }
    }

    @Test func aVerifiedFileIsRememberedUntilItChanges() throws {
        try withDataset { dir, path in
            let cache = VerifiedDatasetCache(path: dir.appendingPathComponent("cache/verified-datasets").path)
            let verifier = DatasetVerifier(cache: cache)
            #expect(!verifier.isRemembered(try Dataset(path: path)))
            let first = try verifier.verify(try Dataset(path: path))
            #expect(first.check?.matches == true && first.cacheProblem == nil)
            let second = try verifier.verify(try Dataset(path: path))
            #expect(second.check == nil, "an unchanged file is not read again")
            // A copy is another file; a touched file (same bytes, new times) is verified again.
            let copy = dir.appendingPathComponent("copy.h5").path
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            #expect(!verifier.isRemembered(try Dataset(path: copy)))
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: path)
            #expect(!verifier.isRemembered(try Dataset(path: path)))
            #expect(try verifier.verify(try Dataset(path: path)).check != nil)
            #expect(verifier.isRemembered(try Dataset(path: path)))
        }
    }

    @Test func aFileWithoutChecksumsStillReadsAndVerifies() throws {
        // Datasets written before Loom stored checksums: contiguous arrays, no filter.
        let dir = try TestPaths.temporaryDirectory("loom-legacy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("old.h5").path
        let images = (0..<(10 * 784)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let labels = (0..<10).map { Int32($0 % 3) }
        let contents = DatasetContents(name: "old", source: "test", license: "none",
                                       imageShape: ImageShape(height: 28, width: 28, channels: 1),
                                       attributes: [AttributeInfo(name: "c", kind: .softmax, classNames: ["a", "b", "c"])],
                                       splits: [.init(name: "train", count: 10, images: images, labels: ["c": labels])])
        do {
            let f = try HDF5File.create(path)
            defer { f.close() }
            try f.root.write(images, shape: [10, 28, 28, 1], to: "train/images")
            try f.root.write(labels, shape: [10], to: "train/labels/c")
            _ = try f.root.createGroup("attributes/c")
            try f.root.setAttribute("kind", "softmax", on: "attributes/c")
            try f.root.setAttribute("class_names", ["a", "b", "c"], on: "attributes/c")
            for (k, v) in ["name": "old", "source": "test", "license": "none", "fingerprint": contents.fingerprint] {
                try f.root.setAttribute(k, v)
            }
        }
        let ds = try Dataset(path: path, residentLimit: 0)
        #expect(try ds.checksumCoverage() == ChecksumCoverage.absent)
        #expect(try ds.split("train").readImages(indices: [9]) == Array(images[(9 * 784)...]))
        #expect(try DatasetVerifier(cache: nil).verify(ds).check?.matches == true)
    }
}
