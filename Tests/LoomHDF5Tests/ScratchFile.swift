import Foundation
import LoomHDF5
import LoomTestSupport

/// A fresh directory under /tmp holding one HDF5 path per test; removed on deinit.
final class ScratchFile {
    let directory: URL
    let path: String

    init(_ name: String = "test.h5") throws {
        directory = try TestPaths.temporaryDirectory("loom-hdf5-tests")
        path = directory.appendingPathComponent(name).path
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Creates the file, runs `body` on its root, closes it.
    func write(_ body: (HDF5Group) throws -> Void) throws {
        let file = try HDF5File.create(path)
        defer { file.close() }
        try body(file.root)
    }

    /// Reopens the file read-only and runs `body` on its root.
    @discardableResult
    func read<R>(_ body: (HDF5Group) throws -> R) throws -> R {
        let file = try HDF5File.open(path)
        defer { file.close() }
        return try body(file.root)
    }
}
