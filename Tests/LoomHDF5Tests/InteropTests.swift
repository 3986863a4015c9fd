import Foundation
import LoomHDF5
import Testing

/// The full path of `tool` on PATH, or nil.
private func onPath(_ tool: String) -> String? {
    let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
    return directories.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Runs `executable` with `arguments`; returns exit status and stdout+stderr.
private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

private let pythonHasH5py: Bool = {
    guard let python = onPath("python3"), let result = try? run(python, ["-c", "import h5py"]) else { return false }
    return result.status == 0
}()

/// A small checkpoint-like file using every writer: datasets, scalar, series, attributes.
private func writeSample() throws -> ScratchFile {
    let scratch = try ScratchFile("sample.h5")
    try scratch.write { root in
        try root.setAttribute("format", "loom-checkpoint")
        try root.setAttribute("step", 12)
        try root.setAttribute("lr", 0.125)
        try root.setAttribute("mean", [0.5, 0.25])
        try root.setAttribute("shape", [1, 28, 28])
        try root.setAttribute("class_names", ["T-shirt/top", "Trouser"])
        try root.write((0..<6).map { Float($0) }, shape: [2, 3], to: "model/f1/weight", compressionLevel: 4)
        try root.writeScalar(Int64(7), to: "optimizer/step")
        try root.createSeries(Double.self, "metrics/val_loss")
        try root.append([0.75, 0.5], toSeries: "metrics/val_loss")
    }
    return scratch
}

@Test(.enabled(if: onPath("h5dump") != nil, "h5dump not on PATH"))
func writtenFilesAreReadableByH5dump() throws {
    let scratch = try writeSample()
    let result = try run(try #require(onPath("h5dump")), ["-H", scratch.path])
    #expect(result.status == 0, "\(result.output)")
    #expect(result.output.contains("DATASET \"weight\""))
    #expect(result.output.contains("H5T_IEEE_F32LE"))
    #expect(result.output.contains("CSET H5T_CSET_UTF8"))
    #expect(result.output.contains("( 2 ) / ( H5S_UNLIMITED )"))
}

@Test(.enabled(if: onPath("h5ls") != nil, "h5ls not on PATH"))
func writtenFilesAreListedByH5ls() throws {
    let scratch = try writeSample()
    let result = try run(try #require(onPath("h5ls")), ["-r", scratch.path])
    #expect(result.status == 0, "\(result.output)")
    for line in ["/model/f1/weight", "/optimizer/step", "/metrics/val_loss"] {
        #expect(result.output.contains(line), "h5ls -r lacks \(line): \(result.output)")
    }
}

@Test(.enabled(if: pythonHasH5py, "python3 with h5py not available"))
func writtenFilesAreReadableByH5py() throws {
    let scratch = try writeSample()
    let script = """
        import sys, h5py, numpy as np
        f = h5py.File(sys.argv[1], "r")
        a = f.attrs
        assert isinstance(a["format"], str) and a["format"] == "loom-checkpoint", repr(a["format"])
        assert int(a["step"]) == 12 and float(a["lr"]) == 0.125
        assert list(a["mean"]) == [0.5, 0.25] and list(a["shape"]) == [1, 28, 28]
        assert [str(s) for s in a["class_names"]] == ["T-shirt/top", "Trouser"], repr(a["class_names"])
        w = f["model/f1/weight"]
        assert w.dtype == np.float32 and w.shape == (2, 3) and w.compression == "gzip", (w.dtype, w.shape)
        assert (w[()] == np.arange(6, dtype=np.float32).reshape(2, 3)).all()
        assert f["optimizer/step"][()] == 7 and f["optimizer/step"].shape == ()
        s = f["metrics/val_loss"]
        assert s.maxshape == (None,) and list(s[()]) == [0.75, 0.5]
        print("ok")
        """
    let result = try run(try #require(onPath("python3")), ["-c", script, scratch.path])
    #expect(result.status == 0 && result.output.contains("ok"), "\(result.output)")
}
