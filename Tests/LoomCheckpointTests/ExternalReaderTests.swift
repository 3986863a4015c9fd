import Foundation
import LoomCheckpoint
import Testing

/// A checkpoint is readable without Loom: HDF5's own tools and h5py.
@Suite struct ExternalReaderTests {
    /// Runs `tool` with `arguments`; nil when the tool is not installed.
    private func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String)? {
        let candidates = ["/usr/bin/", "/usr/local/bin/", "/opt/homebrew/bin/"].map { $0 + tool }
        guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private func written() throws -> (ScratchDirectory, String) {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("ckpt.h5"))
        return (dir, dir.file("ckpt.h5"))
    }

    @Test func h5lsListsTheLayout() throws {
        let (dir, path) = try written()
        guard let (status, out) = try run("h5ls", ["-r", path]) else { return }
        _ = dir
        #expect(status == 0)
        for object in ["/model/c1/weight", "/model/b1/num_batches_tracked", "/optimizer/flat/momentum_buffer",
                       "/optimizer/momentum_buffer/f1/weight", "/metrics/val_accuracy/category", "/rng/augment",
                       "/calibration/category/temperature"] {
            #expect(out.contains(object), "\(object) not in h5ls output:\n\(out)")
        }
    }

    @Test func h5dumpReadsTheHeader() throws {
        let (dir, path) = try written()
        guard let (status, out) = try run("h5dump", ["-H", path]) else { return }
        _ = dir
        #expect(status == 0)
        #expect(out.contains("ATTRIBUTE \"format\"") && out.contains("DATASET \"weight\""))
        #expect(out.contains("H5T_IEEE_F32LE") && out.contains("( 4, 1, 3, 3 )"))
    }

    @Test func h5dumpReadsRootAttributeValues() throws {
        let (dir, path) = try written()
        guard let (status, out) = try run("h5dump", ["-A", "-g", "/", path]) else { return }
        _ = dir
        #expect(status == 0)
        #expect(out.contains("\"loom-checkpoint\"") && out.contains("\"00c0ffee12345678\""), "\(out)")
    }

    @Test func h5pyReadsWeightsAndMetricsByName() throws {
        let (dir, path) = try written()
        let script = """
        import sys
        try:
            import h5py
        except ImportError:
            print("SKIP"); sys.exit(0)
        f = h5py.File(sys.argv[1], "r")
        w = f["model/c1/weight"]
        assert w.dtype.name == "float32" and w.shape == (4, 1, 3, 3), (w.dtype, w.shape)
        print(repr(float(w[0, 0, 0, 2])))
        print(len(f["metrics/train_loss"]), repr(float(f["metrics/train_loss"][-1])))
        print(f.attrs["format"], int(f.attrs["format_version"]))
        import numpy as np
        # The docs/CHECKPOINT.md snippet with np.array in place of torch.from_numpy(np.array(...)).
        sd = {}
        f["model"].visititems(lambda k, v: sd.__setitem__(k.replace("/", "."), np.array(v)) if isinstance(v, h5py.Dataset) else None)
        print(",".join(sorted(sd)))
        n = sd["b1.num_batches_tracked"]
        print(int(n), n.dtype, type(n).__name__, n.ndim)
        """
        guard let (status, out) = try run("python3", ["-c", script, path]) else { return }
        _ = dir
        #expect(status == 0, "\(out)")
        if out.hasPrefix("SKIP") { return }
        let c = Sample.contents()
        let lines = out.split(separator: "\n").map(String.init)
        try #require(lines.count == 5, "\(out)")
        #expect(Float(lines[0]) == c.model[0].values[2])
        #expect(lines[1] == "3 \(c.metrics["train_loss"]![2])")
        #expect(lines[2] == "loom-checkpoint 1")
        let names = (c.model.map(\.name) + ["b1.num_batches_tracked"]).sorted()
        #expect(lines[3] == names.joined(separator: ","))
        #expect(lines[4] == "300 int64 ndarray 0")
    }
}
