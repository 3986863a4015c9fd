import Foundation
import LoomHDF5

/// The PyTorch reference outputs in `Tests/Fixtures` (see its README.md).
public enum Fixtures {
    /// The fixtures folder: `$LOOM_FIXTURES` if set, else `Tests/Fixtures` in the
    /// repository this file was compiled from.
    public static var directory: URL {
        KernelRequest.applied
        if let override = ProcessInfo.processInfo.environment["LOOM_FIXTURES"], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        return TestPaths.repositoryRoot
            .appendingPathComponent("Tests/Fixtures", isDirectory: true)
    }

    /// The path of fixture file `name` (e.g. `"layers.h5"`).
    public static func url(_ name: String) -> URL {
        directory.appendingPathComponent(name)
    }

    /// Opens fixture file `name` read-only.
    public static func open(_ name: String) throws -> HDF5File {
        try HDF5File.open(url(name).path, mode: .readOnly)
    }
}
