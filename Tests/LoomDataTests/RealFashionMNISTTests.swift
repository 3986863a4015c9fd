// Tests on the real Fashion-MNIST files of the Debian package, when installed.

import Foundation
import LoomData
import LoomSynthetic
import LoomTestSupport
import Testing

let realFashionMNISTInstalled = FileManager.default.fileExists(
    atPath: FashionMNISTImporter.defaultSource + "/train-images-idx3-ubyte.gz")

@Suite(.enabled(if: realFashionMNISTInstalled, "dataset-fashion-mnist is not installed"))
struct RealFashionMNISTTests {
    @Test func importHasOfficialCountsBalancedLabelsAndStableFingerprint() throws {
        let dir = try TestPaths.temporaryDirectory("loomdata-real")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try FashionMNISTImporter.import(output: dir.appendingPathComponent("a.h5").path)
        let b = try FashionMNISTImporter.import(output: dir.appendingPathComponent("b.h5").path)
        #expect(a.splits == ["train": 60000, "test": 10000])
        #expect(a.fingerprint == b.fingerprint)
        let ds = try Dataset(path: a.path)
        for (split, perClass) in [("train", 6000), ("test", 1000)] {
            var histogram = [Int](repeating: 0, count: 10)
            for l in try ds.split(split).labels("category") { histogram[Int(l)] += 1 }
            #expect(histogram == [Int](repeating: perClass, count: 10), "\(split)")
        }
    }
}

/// Regenerates `data/fashion-mnist.h5`, `data/fashion-mnist-attr.h5` and the example
/// grids in `docs/images/`. Off by default; run with LOOM_GENERATE_DATA=1.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["LOOM_GENERATE_DATA"] == "1"))
struct GenerateBenchmarkData {
    @Test func generateDatasetsAndExampleGrids() throws {
        let root = ProcessInfo.processInfo.environment["LOOM_REPO"].map { URL(fileURLWithPath: $0) } ?? TestPaths.repositoryRoot
        let plain = root.appendingPathComponent("data/fashion-mnist.h5").path
        let attr = root.appendingPathComponent("data/fashion-mnist-attr.h5").path
        let started = Date()
        let s1 = try FashionMNISTImporter.import(output: plain)
        let imported = Date()
        let s2 = try AttributeBenchmark.generate(sourcePath: plain, output: attr, seed: 7)
        let generated = Date()
        print("imported \(s1.fingerprint) in \(imported.timeIntervalSince(started)) s; "
              + "benchmark \(s2.fingerprint) in \(generated.timeIntervalSince(imported)) s")
        let ds = try Dataset(path: attr)
        for attribute in ["colour", "pattern"] {
            try AttributeBenchmark.writeExampleGrid(
                dataset: ds, attribute: attribute, perClass: 8,
                to: root.appendingPathComponent("docs/images/attr-\(attribute).png").path)
        }
    }
}
