import Foundation
import LoomCheckpoint
import LoomHDF5
import LoomTestSupport
import Testing

/// Each kind of bad file gives its own one-line error that names the file.
@Suite struct ValidationTests {
    private func readError(_ path: String, expecting: CheckpointExpectation? = nil) -> CheckpointError? {
        #expect(throws: CheckpointError.self) { try CheckpointReader.read(path, expecting: expecting) }
    }

    @Test func missingFileIsReported() throws {
        let dir = try ScratchDirectory()
        let error = readError(dir.file("nope.h5"))
        #expect(error?.reason == .fileMissing)
        #expect(error?.description == dir.file("nope.h5") + ": no such file")
    }

    @Test func truncatedFileIsReported() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("a.h5"))
        let data = try Data(contentsOf: URL(fileURLWithPath: dir.file("a.h5")))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: dir.file("a.h5")))
        let error = try #require(readError(dir.file("a.h5")))
        guard case .truncatedOrCorrupt = error.reason else { Issue.record("got \(error)"); return }
        #expect(error.description.hasPrefix(dir.file("a.h5") + ": truncated or corrupt HDF5 file"))
        #expect(!error.description.contains("\n"))
    }

    @Test func randomBytesAreNotHDF5() throws {
        let dir = try ScratchDirectory()
        var rng = SystemRandomNumberGenerator()
        try Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) })
            .write(to: URL(fileURLWithPath: dir.file("junk.h5")))
        let error = readError(dir.file("junk.h5"))
        #expect(error?.reason == .notHDF5)
        #expect(error?.description == dir.file("junk.h5") + ": truncated or not an HDF5 file (no HDF5 signature)")
    }

    @Test func emptyFileIsNotHDF5() throws {
        let dir = try ScratchDirectory()
        FileManager.default.createFile(atPath: dir.file("empty.h5"), contents: Data())
        #expect(readError(dir.file("empty.h5"))?.reason == .notHDF5)
    }

    @Test func foreignHDF5FileIsNotALoomCheckpoint() throws {
        let dir = try ScratchDirectory()
        try FileManager.default.copyItem(atPath: Fixtures.url("layers.h5").path, toPath: dir.file("layers.h5"))
        let error = readError(dir.file("layers.h5"))
        #expect(error?.description == dir.file("layers.h5") + ": not a Loom checkpoint (no 'format' attribute)")
    }

    @Test func newerFormatVersionIsRefused() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("a.h5"))
        let file = try HDF5File.open(dir.file("a.h5"), mode: .readWrite)
        try file.root.setAttribute("format_version", 2, on: "/")
        file.close()
        #expect(readError(dir.file("a.h5"))?.reason == .unsupportedVersion(found: 2, supported: 1...1))
    }

    @Test func missingGroupIsNamed() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("a.h5"))
        let file = try HDF5File.open(dir.file("a.h5"), mode: .readWrite)
        try file.root.remove("sampler")
        file.close()
        #expect(readError(dir.file("a.h5"))?.reason == .missing(object: "group /sampler"))
    }

    @Test func nanInATensorNamesTheTensorAndIndex() throws {
        let dir = try ScratchDirectory()
        let c = Sample.contents()
        try CheckpointWriter.write(c, to: dir.file("a.h5"))
        var poisoned = c.model[0].values
        poisoned[17] = .nan
        let file = try HDF5File.open(dir.file("a.h5"), mode: .readWrite)
        try file.root.write(poisoned, shape: c.model[0].shape, to: "model/c1/weight")
        file.close()
        let error = readError(dir.file("a.h5"))
        #expect(error?.description == dir.file("a.h5") + ": tensor model/c1/weight contains NaN at element 17")
    }

    @Test func float64WeightIsWrongType() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("a.h5"))
        let file = try HDF5File.open(dir.file("a.h5"), mode: .readWrite)
        try file.root.write([Double](repeating: 0, count: 4), shape: [4], to: "model/c1/bias")
        file.close()
        #expect(readError(dir.file("a.h5"))?.reason == .wrongType(object: "model/c1/bias", found: "float64", expected: "float32"))
    }

    @Test func differentModelIsRefusedNamingTheTensor() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("a.h5"))
        var expected = Sample.model
        expected[6].1 = [3, 32]
        let error = readError(dir.file("a.h5"), expecting: CheckpointExpectation(expected))
        #expect(error?.description == dir.file("a.h5") + ": tensor f1.weight has shape [3, 16], expected [3, 32]")
    }

    @Test func tensorMissingFromCheckpointIsNamed() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("a.h5"))
        let error = readError(dir.file("a.h5"), expecting: CheckpointExpectation(Sample.model + [("f2.weight", [2, 3])]))
        #expect(error?.reason == .missingTensor(tensor: "f2.weight"))
    }

    @Test func tensorTheModelLacksIsNamed() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("a.h5"))
        let error = readError(dir.file("a.h5"), expecting: CheckpointExpectation(Array(Sample.model.dropLast())))
        #expect(error?.reason == .unexpectedTensor(tensor: "f1.bias"))
    }

    @Test func matchingExpectationIsAccepted() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("a.h5"))
        _ = try CheckpointReader.read(dir.file("a.h5"), expecting: Sample.expectation)
    }
}
