// A checkpoint written by `loom import-weights` is a checkpoint like any other: `loom predict`
// reads it, and its --json gives each head's raw logits, which a reviewer compares with
// PyTorch's on the same batch (docs/FINE_TUNING.md, "Checking an import against PyTorch").

import Foundation
import LoomHDF5
import Testing

@Suite struct ImportedCheckpointPredictTests {
    @Test func predictReadsAnImportedCheckpointAndPrintsItsLogits() throws {
        let ws = try Workspace("import-weights-predict", train: 256, test: 8)
        // A linear classifier on the 28x28 pixels: logits = W x + b, x = pixels / 255.
        let model = try ws.write("model.yaml", """
            input: [1, 28, 28]
            layers:
              - {kind: flatten}
            heads:
              - {name: category, kind: softmax, classes: 10, layer: fc}
            """)
        let w: [Float] = (0..<(10 * 784)).map { (i: Int) -> Float in Float((i * 37) % 101) / 1000 - 0.05 }
        let b: [Float] = (0..<10).map { (k: Int) -> Float in Float(k) / 10 - 0.3 }
        var body = Data()
        for v in w + b { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
        let header = "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[10,784],\"data_offsets\":[0,31360]},"
            + "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[31360,31400]}}"
        var file = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
        try (file + Data(header.utf8) + body).write(to: URL(fileURLWithPath: ws.path("w.safetensors")))
        let imported = try ws.loom(["import-weights", ws.path("w.safetensors"), "--model", model, "--out", ws.path("init.h5")])
        #expect(imported.status == 0, "\(imported.stderr)")

        let r = try ws.loom(["predict", ws.path("init.h5"), "--dataset", ws.datasetPath, "--index", "3", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let heads = try #require(try jsonObject(r.stdout)["heads"] as? [[String: Any]])
        let logits = try #require(heads.first?["logits"] as? [Double], "no logits in:\n\(r.stdout)")
        let pixels = try HDF5File.open(ws.datasetPath).root.read(UInt8.self, "test/images").values[(3 * 784)..<(4 * 784)]
        let x: [Double] = pixels.map { (p: UInt8) -> Double in Double(p) / 255 }
        var expected = [Double](repeating: 0, count: 10)
        for k in 0..<10 {
            var sum = Double(b[k])
            for p in 0..<784 { sum += Double(w[k * 784 + p]) * x[p] }
            expected[k] = sum
        }
        #expect(logits.count == 10)
        for k in 0..<min(10, logits.count) {
            let tolerance: Double = 1e-4 * Swift.max(1.0, Swift.abs(expected[k]))
            #expect(Swift.abs(logits[k] - expected[k]) <= tolerance, "logits \(logits) against W x + b = \(expected)")
        }
    }
}
