// `loom import-weights` as a process: a safetensors file written here, a model file, the
// four lists it prints, the checkpoint it writes, and its errors.

import Foundation
import Testing

/// A safetensors file of float32 tensors (8-byte little-endian header length, JSON header, data).
private func safetensorsFile(_ tensors: [(String, [Int], [Float])]) -> Data {
    var header: [String] = []
    var body = Data()
    for (name, shape, values) in tensors {
        let begin = body.count
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
        header.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(body.count)]}")
    }
    let json = Data(("{" + header.joined(separator: ",") + "}").utf8)
    var file = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
    return file + json + body
}

/// A model small enough to write by hand: one 3×3 convolution and a batch norm before the
/// head (also `ImportWeightsInputTests`'s).
let tinyImportModel = """
input: [1, 4, 4]
layers:
  - {kind: conv2d, name: conv1, out: 2, kernel: 3, padding: 1, bias: false}
  - {kind: batchnorm2d, name: bn1}
  - {kind: relu}
  - {kind: flatten}
heads:
  - {name: category, kind: softmax, classes: 3, layer: fc}
"""

@Suite struct ImportWeightsTests {
    @Test func listsLoadedLeftAtInitDidNotFitAndUnusedAndWritesACheckpoint() throws {
        let ws = try Workspace("import-weights", train: 8, test: 8)
        let model = try ws.write("model.yaml", tinyImportModel)
        let source = ws.path("weights.safetensors")
        try safetensorsFile([("conv1.weight", [2, 1, 3, 3], (0..<18).map { Float($0) / 10 }),
                             ("bn1.weight", [5], [1, 1, 1, 1, 1]), ("other.bias", [2], [0, 0])])
            .write(to: URL(fileURLWithPath: source))
        let r = try ws.loom(["import-weights", source, "--model", model, "--out", ws.path("init.h5")])
        #expect(r.status == 0, "\(r.stderr)")
        for needle in ["loaded (1): conv1.weight",
                       "left at initialisation (5): bn1.bias, fc.weight, fc.bias, bn1.running_mean, bn1.running_var",
                       "did not fit, left at initialisation (1): bn1.weight: source 'bn1.weight' has shape [5], the model [2]",
                       "unused in \(source) (1): other.bias"] {
            #expect(r.stdout.contains(needle), "missing '\(needle)' in:\n\(r.stdout)")
        }
        // The trunk's bn1 tensors were not loaded: said on stderr (train --init-from will load
        // their initialisation without a word), an error only with --require-trunk.
        #expect(r.stderr.contains("4 trunk tensor(s) outside the heads were not loaded and keep their initialisation:"
                                  + " bn1.bias, bn1.running_mean, bn1.running_var, bn1.weight (--require-trunk"),
                "\(r.stderr)")
        #expect(!r.stderr.contains("fc.weight"), "\(r.stderr)")
        let inspect = try ws.loom(["inspect", "--json", ws.path("init.h5")])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(try jsonObject(inspect.stdout)["step"] as? Int == 0)

        let strict = try ws.loom(["import-weights", source, "--model", model, "--out", ws.path("strict.h5"),
                                  "--require-trunk"])
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("--require-trunk: 4 trunk tensors not loaded"), "\(strict.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("strict.h5")))
    }

    @Test func aTruncatedFileIsOneClearErrorNamingIt() throws {
        let ws = try Workspace("import-weights-bad", train: 8, test: 8)
        let model = try ws.write("model.yaml", tinyImportModel)
        let source = ws.path("cut.safetensors")
        let whole = safetensorsFile([("conv1.weight", [2, 1, 3, 3], [Float](repeating: 1, count: 18))])
        try whole.prefix(whole.count - 5).write(to: URL(fileURLWithPath: source))
        let r = try ws.loom(["import-weights", source, "--model", model, "--out", ws.path("init.h5")])
        #expect(r.status == 1)
        for needle in ["\(source): truncated safetensors file", "tensor 'conv1.weight' ends at data byte 72",
                       "the file holds 67 data bytes", "(5 bytes missing)"] {
            #expect(r.stderr.contains(needle), "missing '\(needle)' in:\n\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: ws.path("init.h5")))
    }
}
