// A file declares its own dataset sizes, and a chunked dataset need not store its elements:
// a 1.7 KB file can claim 4 TiB or 2^64 elements. Reads check the declared size before
// allocating (an error naming the object, not an abort); the files are made by h5py.
import Foundation
import LoomHDF5
import Testing

private let python: String? = {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/python3" }
    for candidate in path + ["/usr/bin/python3"] where FileManager.default.isExecutableFile(atPath: candidate) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: candidate)
        p.arguments = ["-c", "import h5py"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { continue }
        p.waitUntilExit()
        if p.terminationStatus == 0 { return candidate }
    }
    return nil
}()

@Suite(.enabled(if: python != nil, "needs a python3 with h5py to write the files")) struct DeclaredSizeTests {
    /// A file with `big` (2^20 × 2^20 float32, nothing stored) and `huge` (2^32 × 2^32).
    static func sparseFile() throws -> String {
        let path = "/tmp/loom-declared-\(getpid())-\(UUID().uuidString.prefix(8)).h5"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python!)
        p.arguments = ["-c", """
            import sys, h5py
            with h5py.File(sys.argv[1], "w") as f:
                f.create_dataset("big", shape=(1 << 20, 1 << 20), dtype="f4", chunks=(1, 1024))
                f.create_dataset("huge", shape=(1 << 32, 1 << 32), dtype="f4", chunks=(1, 1024))
            """, path]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        return path
    }

    @Test func aDatasetDeclaringFourTebibytesIsAnErrorNotAnAllocation() throws {
        let path = try Self.sparseFile()
        defer { unlink(path) }
        let file = try HDF5File.open(path)
        defer { file.close() }
        #expect(try file.root.shape(of: "big") == [1 << 20, 1 << 20])
        #expect {
            _ = try file.root.read(Float.self, "big")
        } throws: { error in
            "\(error)".contains("big") && "\(error)".contains("more than the \(hdf5ReadLimitBytes) bytes one read may take")
        }
        // Rows the caller asks for are bounded the same way.
        #expect(throws: HDF5Error.self) { _ = try file.root.readRows(Float.self, "big", rows: 0..<(1 << 15)) }
        #expect(try file.root.readRows(Float.self, "big", rows: 0..<2).values.count == 2 << 20)
    }

    @Test func aShapeWhoseProductPassesTwoToTheSixtyThreeIsAnError() throws {
        let path = try Self.sparseFile()
        defer { unlink(path) }
        let file = try HDF5File.open(path)
        defer { file.close() }
        #expect {
            _ = try file.root.shape(of: "huge")
        } throws: { error in "\(error)".contains("more than 2^63 elements") }
        #expect(throws: HDF5Error.self) { _ = try file.root.read(Float.self, "huge") }
    }
}
