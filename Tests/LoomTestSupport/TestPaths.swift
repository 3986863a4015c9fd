import Foundation

/// Locations tests need: the repository, scratch folders, the built `loom` binary.
public enum TestPaths {
    /// The repository root, found from this source file's path
    /// (`<root>/Tests/LoomTestSupport/TestPaths.swift`).
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // LoomTestSupport
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()
    }

    /// A new empty directory under /tmp named `<prefix>.XXXXXX`; the caller removes it.
    public static func temporaryDirectory(_ prefix: String) throws -> URL {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: "/tmp/\(prefix).XXXXXX"])
        }
        return URL(fileURLWithPath: String(cString: made), isDirectory: true)
    }

    /// The `loom` executable: `$LOOM_BIN` if set, else `loom` in the directory of the
    /// running test binary (SwiftPM puts both in `.build/<configuration>/`).
    public static var loomExecutable: URL {
        if let override = ProcessInfo.processInfo.environment["LOOM_BIN"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        return testBinaryDirectory.appendingPathComponent("loom")
    }

    /// The running test executable (on Linux; SwiftPM's `<Package>PackageTests.xctest`).
    public static var testExecutable: URL {
        URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0])
    }

    /// The directory holding the test executable. On Linux /proc/self/exe names it; on
    /// macOS the .xctest bundle sits in the build folder next to `loom`.
    private static var testBinaryDirectory: URL {
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: exe).deletingLastPathComponent()
        }
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".")
        while url.path != "/" && url.pathExtension != "xctest" {
            url.deleteLastPathComponent()
        }
        return url.pathExtension == "xctest" ? url.deletingLastPathComponent() : Bundle.main.bundleURL
    }
}
