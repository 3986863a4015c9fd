// The issue's altered dataset: a copy with 1,000 training images inverted that keeps its
// `fingerprint` attribute. `loom verify` reports it, and neither `loom train --resume auto`
// nor a worker given it with --data uses it: each stops with one clear line, exit 1.

import Foundation
import LoomData
import LoomHDF5
import LoomTestSupport
import Testing

@Suite struct VerifiedDataCLITests {
    /// A copy of the workspace's dataset with the first `count` train images inverted, its
    /// attributes (the fingerprint among them) kept.
    static func alteredCopy(_ ws: Workspace, inverting count: Int) throws -> String {
        let path = ws.path("altered.h5")
        try FileManager.default.copyItem(atPath: ws.datasetPath, toPath: path)
        let f = try HDF5File.open(path, mode: .readWrite)
        defer { f.close() }
        var images = try f.root.read(UInt8.self, "train/images")
        for i in 0..<(count * 784) { images.values[i] = ~images.values[i] }
        try f.root.write(images.values, shape: images.shape, to: "train/images")
        return path
    }

    @Test func verifyReportsAMatchAndAnAlteredCopy() throws {
        let ws = try Workspace("verify", train: 1200, test: 64)
        let env = ["LOOM_CACHE_DIR": ws.path("cache")]
        let good = try ws.loom(["verify", ws.datasetPath], environment: env)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("\(ws.datasetPath): fingerprint ") && good.stdout.contains("verified"), "\(good.stdout)")
        #expect(good.stdout.contains("no chunk checksums"), "the tiny dataset is written the old way: \(good.stdout)")
        #expect(try String(contentsOfFile: ws.path("cache/verified-datasets"), encoding: .utf8).contains(ws.datasetPath))

        let altered = try Self.alteredCopy(ws, inverting: 1000)
        let bad = try ws.loom(["verify", ws.datasetPath, altered], environment: env)
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("\(ws.datasetPath): fingerprint "), "the good file is still reported: \(bad.stdout)")
        let line = try #require(bad.errorLine, "\(bad.stderr)")
        #expect(line.contains(altered) && line.contains("does not match its fingerprint"), "\(line)")
    }

    @Test func resumeAutoRefusesTheAlteredDataset() throws {
        let ws = try Workspace("verify-resume", train: 1200, test: 64)
        let env = ["LOOM_CACHE_DIR": ws.path("cache")]
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 2)
        spec.extra = ["training.max_steps=4"]
        let first = try ws.loom(spec.arguments(), environment: env)
        #expect(first.status == 0, "\(first.stderr.suffix(1500))")
        #expect(first.stderr.contains("verified"), "training verifies its dataset first")
        let before = RunFiles.checkpointSteps(in: spec.runDirectory)

        spec.datasetPath = try Self.alteredCopy(ws, inverting: 1000)
        spec.extra = ["training.max_steps=8"]
        let resumed = try ws.loom(spec.arguments(["--resume", "auto"]), environment: env)
        #expect(resumed.status == 1 && !resumed.signalled)
        let line = try #require(resumed.errorLine, "\(resumed.stderr.suffix(1500))")
        #expect(line.contains(spec.datasetPath) && line.contains("does not match its fingerprint"), "\(line)")
        #expect(RunFiles.checkpointSteps(in: spec.runDirectory) == before, "nothing was trained on it")
    }

    @Test func aWorkerRefusesTheAlteredDatasetBeforeItConnects() throws {
        let ws = try Workspace("verify-worker", train: 1200, test: 64)
        let altered = try Self.alteredCopy(ws, inverting: 1000)
        // No coordinator listens there: the worker must stop on its data, not wait for one.
        let r = try ws.loom(["worker", "--connect", "ipc://\(ws.path("nobody.sock"))", "--data", altered],
                            timeout: 60, environment: ["LOOM_CACHE_DIR": ws.path("cache")])
        #expect(r.status == 1 && !r.signalled, "\(r.stderr.suffix(1500))")
        let line = try #require(r.errorLine, "\(r.stderr.suffix(1500))")
        #expect(line.contains(altered) && line.contains("does not match its fingerprint"), "\(line)")
    }

    @Test func aPhotoDatasetHasChecksumsAndVerifies() throws {
        let ws = try Workspace("verify-photos", train: 8, test: 8)
        var lines = ["path,split,colour"]
        for i in 0..<12 {
            let rgb: (UInt8, UInt8, UInt8) = i % 2 == 0 ? (200, 30, 30) : (30, 30, 200)
            try PhotoFiles.writeJPEG(ws.path("photos/p\(i).jpg"), pixels: PhotoFiles.solid(width: 40, height: 30, rgb), width: 40, height: 30)
            lines.append("photos/p\(i).jpg,\(i < 9 ? "train" : "test"),\(i % 2 == 0 ? "red" : "blue")")
        }
        try ws.write("m.csv", lines.joined(separator: "\n") + "\n")
        let out = ws.path("photos.h5")
        let imported = try ws.loom(["import", "images", "--manifest", ws.path("m.csv"), "--size", "32", "--out", out])
        #expect(imported.status == 0, "\(imported.stderr)")
        let env = ["LOOM_CACHE_DIR": ws.path("cache")]
        let good = try ws.loom(["verify", out], environment: env)
        #expect(good.status == 0 && good.stdout.contains("every array has chunk checksums"), "\(good.stdout) \(good.stderr)")

        // A flipped byte inside an image chunk: a typed error naming file and dataset.
        let chunk = try {
            let f = try HDF5File.open(out)
            defer { f.close() }
            return try f.root.chunks(of: "train/images")[0]
        }()
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: out))
        try handle.seek(toOffset: UInt64(chunk.fileOffset + chunk.size / 2))
        let byte = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: UInt64(chunk.fileOffset + chunk.size / 2))
        try handle.write(contentsOf: [~byte])
        try handle.close()
        let bad = try ws.loom(["verify", out], environment: env)
        #expect(bad.status == 1)
        let line = try #require(bad.errorLine, "\(bad.stderr)")
        #expect(line.contains(out) && line.contains("/train/images") && line.contains("corrupt"), "\(line)")
    }
}
