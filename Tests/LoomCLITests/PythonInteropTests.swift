// "Load the weights into PyTorch with h5py", without torch: Python reads the final
// checkpoint by state_dict name with h5py, runs the MLP's forward pass in numpy on the
// test split and must count the same correct predictions as `loom eval`.

import Foundation
import Testing

enum Python {
    /// True when `python3 -c 'import h5py, numpy'` works on this machine.
    static let hasH5py: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import h5py, numpy"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    /// Runs `script` with `arguments`; returns (status, stdout + stderr).
    static func run(_ script: String, arguments: [String]) throws -> (Int32, String) {
        let out = "/tmp/loom-cli-python-\(getpid())-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script] + arguments
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        p.waitUntilExit()
        try? handle.close()
        return (p.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }
}

@Suite struct PythonInteropTests {
    /// Prints `correct count` of the MLP `l1 relu l2 relu l3` on the dataset's test split.
    static let forwardPass = """
        import sys, h5py, numpy as np
        ckpt, data = sys.argv[1], sys.argv[2]
        with h5py.File(ckpt, "r") as f:
            sd = {}
            f["model"].visititems(lambda k, v: sd.__setitem__(k.replace("/", "."), np.array(v))
                                  if isinstance(v, h5py.Dataset) else None)
            pre = f["preprocessing"].attrs
            scale, mean, std = float(pre["scale"]), np.array(pre["mean"]).reshape(-1), np.array(pre["std"]).reshape(-1)
            # Read by state_dict name, as PyTorch's load_state_dict would.
            assert sd["l1.weight"].shape == (256, 784), sd["l1.weight"].shape
        with h5py.File(data, "r") as d:
            images = d["test/images"][()].astype(np.float32)      # (N, H, W, C)
            labels = d["test/labels/category"][()]
        n = images.shape[0]
        x = images.transpose(0, 3, 1, 2)                           # (N, C, H, W), PyTorch's order
        m = mean[0] if mean.size else 0.0
        s = std[0] if std.size else 1.0
        x = ((x * scale - m) / s).reshape(n, -1).astype(np.float32)
        h = np.maximum(x @ sd["l1.weight"].T + sd["l1.bias"], 0)
        h = np.maximum(h @ sd["l2.weight"].T + sd["l2.bias"], 0)
        logits = h @ sd["l3.weight"].T + sd["l3.bias"]
        print((logits.argmax(axis=1) == labels).sum(), n)
        """

    @Test(.enabled(if: Python.hasH5py, "python3 with h5py and numpy is not installed: skipped"))
    func numpyWithTheCheckpointsWeightsMatchesLoomEval() throws {
        let reference = try ReferenceRun.get()
        let (status, output) = try Python.run(Self.forwardPass,
                                              arguments: [reference.spec.latest, reference.workspace.datasetPath])
        try #require(status == 0, "python failed:\n\(output)")
        let fields = output.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        try #require(fields.count == 2, "unexpected output: \(output)")
        let eval = try jsonObject(try reference.workspace.loom(["eval", "--json", reference.spec.latest]).stdout)
        let heads = try #require(eval["heads"] as? [String: Any])
        let accuracy = try #require((heads["category"] as? [String: Any])?["accuracy"] as? Double)
        let count = try #require(eval["count"] as? Int)
        #expect(fields[1] == count)
        #expect(fields[0] == Int((accuracy * Double(count)).rounded()),
                "numpy counts \(fields[0]) of \(fields[1]) correct, loom eval reports accuracy \(accuracy) of \(count)")
    }
}
