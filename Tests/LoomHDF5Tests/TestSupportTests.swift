import Foundation
import LoomHDF5
import LoomTestSupport
import Testing

@Test func assertClosePassesWithinTolerance() {
    // Absolute tolerance near zero, relative tolerance for large values.
    assertClose([0, 1000.05, -2e-6], [5e-6, 1000, 0], rtol: 1e-4, atol: 1e-5, "within tolerance")
}

@Test func assertCloseRecordsAnIssueOutsideTolerance() {
    withKnownIssue("1.1 is not close to 1.0") {
        assertClose([1, 1.1], [1, 1.0], "values")
    }
}

@Test func assertCloseRecordsAnIssueForNaN() {
    withKnownIssue("NaN never passes") {
        assertClose([.nan], [1], "nan")
    }
}

@Test func assertCloseRecordsAnIssueForDifferentCounts() {
    withKnownIssue("count mismatch") {
        assertClose([1, 2], [1], "counts")
    }
}

@Test func temporaryDirectoriesAreFreshAndUnderTmp() throws {
    let a = try TestPaths.temporaryDirectory("loom-paths"), b = try TestPaths.temporaryDirectory("loom-paths")
    defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
    #expect(a != b)
    #expect(a.path.hasPrefix("/tmp/loom-paths."))
    #expect(try FileManager.default.contentsOfDirectory(atPath: a.path).isEmpty)
}

@Test func repositoryRootHoldsThePackageManifest() {
    #expect(FileManager.default.fileExists(atPath: TestPaths.repositoryRoot.appendingPathComponent("Package.swift").path))
}

@Test func loomExecutableIsNamedLoom() {
    #expect(TestPaths.loomExecutable.lastPathComponent == "loom")
}

@Test func separateFilesCanBeUsedFromSeparateThreads() throws {
    let directory = try TestPaths.temporaryDirectory("loom-hdf5-threads")
    defer { try? FileManager.default.removeItem(at: directory) }
    let failures = LockedCounter()
    DispatchQueue.concurrentPerform(iterations: 8) { worker in
        do {
            let path = directory.appendingPathComponent("w\(worker).h5").path
            let file = try HDF5File.create(path)
            for step in 0..<20 {
                try file.root.write([Float](repeating: Float(worker), count: 100), shape: [10, 10], to: "s\(step)/w")
                try file.root.setAttribute("step", step)
            }
            file.close()
            let read = try HDF5File.open(path).root
            if try read.read(Float.self, "s19/w").values != [Float](repeating: Float(worker), count: 100)
                || read.intAttribute("step") != 19 { failures.increment() }
        } catch {
            failures.increment()
        }
    }
    #expect(failures.value == 0)
}

private final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
