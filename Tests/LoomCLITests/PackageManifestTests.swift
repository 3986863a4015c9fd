// Package.swift is the architecture: each target lists exactly the modules its files import
// (deploy/tools/check_imports.py compares them), so a dependency cannot creep in unseen.

import Foundation
import Testing

struct PackageManifestTests {
    @Test func everyTargetImportsExactlyWhatPackageSwiftLists() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let script = root.appendingPathComponent("deploy/tools/check_imports.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--package", root.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("imports match Package.swift"), "\(text)")
    }
}
