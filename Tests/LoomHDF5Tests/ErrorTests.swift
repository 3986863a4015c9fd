import Foundation
import LoomHDF5
import LoomTestSupport
import Testing

@Test func openingAMissingFileNamesTheFile() throws {
    let scratch = try ScratchFile("absent.h5")
    let error = #expect(throws: HDF5Error.self) { try HDF5File.open(scratch.path) }
    #expect(error?.file == scratch.path)
    #expect(error?.description == "\(scratch.path): /: no such file")
}

@Test func openingRandomBytesIsAnErrorNamingTheFile() throws {
    let scratch = try ScratchFile("noise.h5")
    let noise = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })
    try noise.write(to: URL(fileURLWithPath: scratch.path))
    let error = #expect(throws: HDF5Error.self) { try HDF5File.open(scratch.path) }
    #expect(error?.description.hasPrefix("\(scratch.path): /: cannot open as an HDF5 file") == true)
}

@Test func openingATruncatedFileIsAnError() throws {
    let scratch = try ScratchFile("truncated.h5")
    let whole = try Data(contentsOf: Fixtures.url("layers.h5"))
    try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: scratch.path))
    let error = #expect(throws: HDF5Error.self) { try HDF5File.open(scratch.path) }
    #expect(error?.file == scratch.path)
}

@Test func readingAMissingDatasetNamesFileAndObject() throws {
    let root = try Fixtures.open("layers.h5").root
    let error = #expect(throws: HDF5Error.self) { try root.read(Float.self, "layers/linear/nope") }
    #expect(error?.description == "\(Fixtures.url("layers.h5").path): /layers/linear/nope: no such dataset")
}

@Test func libraryFailuresCarryHDF5sOwnMessage() throws {
    let root = try Fixtures.open("layers.h5").root
    // Writing to a read-only file passes our checks and is refused by libhdf5 itself.
    let error = #expect(throws: HDF5Error.self) { try root.writeScalar(Float(1), to: "extra") }
    #expect(error?.message.contains("(HDF5: ") == true)
    #expect(error?.description.contains("\n") == false)
}

@Test func usingAClosedFileIsAnError() throws {
    let file = try Fixtures.open("layers.h5")
    file.close()
    file.close()  // idempotent
    let error = #expect(throws: HDF5Error.self) { try file.root.shape(of: "layers/linear/x") }
    #expect(error?.message == "file is closed")
}

@Test func closedFileCanBeRenamedAndReopened() throws {
    let scratch = try ScratchFile("checkpoint.tmp")
    let file = try HDF5File.create(scratch.path)
    try file.root.write([1, 2] as [Float], shape: [2], to: "model/w")
    let group = try file.root.group("model")
    try file.flush()
    file.close()
    let final = scratch.directory.appendingPathComponent("checkpoint.h5").path
    try FileManager.default.moveItem(atPath: scratch.path, toPath: final)
    #expect(try HDF5File.open(final).root.read(Float.self, "model/w").values == [1, 2])
    #expect(throws: HDF5Error.self) { try group.read(Float.self, "w") }
}

@Test func failuresPrintNothingToStandardError() throws {
    let missing = try ScratchFile("nothing.h5")
    let noise = try ScratchFile("noise.h5")
    try Data(repeating: 0x5A, count: 1024).write(to: URL(fileURLWithPath: noise.path))
    let root = try Fixtures.open("layers.h5").root
    let printed = try capturingStandardError {
        _ = try? HDF5File.open(missing.path)
        _ = try? HDF5File.open(noise.path)
        _ = try? root.read(Float.self, "missing/path")
        _ = try? root.writeScalar(Float(1), to: "readonly")
    }
    #expect(!printed.contains("HDF5-DIAG"), "HDF5 printed: \(printed)")
}

/// Runs `body` with fd 2 redirected into a scratch file; returns what was written there.
/// Other tests may run concurrently, so callers look for HDF5's marker, not emptiness.
/// A file, not a pipe: writers (including child processes that inherit fd 2 meanwhile)
/// can never block on it or die of SIGPIPE. What was captured is echoed to the real fd 2.
private func capturingStandardError(_ body: () throws -> Void) throws -> String {
    let scratch = try ScratchFile("stderr.txt")
    let capture = open(scratch.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard capture >= 0 else { throw CocoaError(.fileWriteUnknown) }
    let saved = dup(2)
    dup2(capture, 2)
    close(capture)
    defer {
        dup2(saved, 2)
        close(saved)
    }
    try body()
    dup2(saved, 2)
    let printed = try Data(contentsOf: URL(fileURLWithPath: scratch.path))
    FileHandle.standardError.write(printed)
    return String(decoding: printed, as: UTF8.self)
}
