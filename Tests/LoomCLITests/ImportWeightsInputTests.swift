// `loom import-weights` on the inputs a reviewer feeds it: a state_dict saved as HDF5 by name,
// malformed safetensors files and --map files with typos. Each bad input is one error naming
// the file and what is wrong in it, exit status 1, and no checkpoint written.

import Foundation
import LoomHDF5
import Testing

private let conv1 = (0..<18).map { Float($0) / 10 - 0.5 }

/// A safetensors file: the 8-byte little-endian header length, `header`, then `body`.
private func safetensors(header: String, body: Data) -> Data {
    var file = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
    return file + Data(header.utf8) + body
}

private func float32(_ values: [Float]) -> Data {
    var data = Data()
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
    return data
}

@Suite struct ImportWeightsInputTests {
    /// Runs import-weights on `bytes` (and `map` when given); returns the result and whether
    /// the checkpoint exists afterwards.
    private func importing(_ bytes: Data, map: String? = nil, name: String = "weights.safetensors",
                           _ ws: Workspace) throws -> (result: LoomResult, wrote: Bool) {
        let modelPath = try ws.write("model.yaml", tinyImportModel)
        let source = ws.path(name)
        try bytes.write(to: URL(fileURLWithPath: source))
        var arguments = ["import-weights", source, "--model", modelPath, "--out", ws.path("init.h5")]
        if let map { arguments += ["--map", try ws.write("map.yaml", map)] }
        let r = try ws.loom(arguments)
        return (r, FileManager.default.fileExists(atPath: ws.path("init.h5")))
    }

    private func expectRefused(_ r: (result: LoomResult, wrote: Bool), _ needles: [String]) {
        #expect(r.result.status == 1, "status \(r.result.status): \(r.result.stderr)")
        #expect(!r.wrote, "a checkpoint was written")
        for needle in needles {
            #expect(r.result.stderr.contains(needle), "missing '\(needle)' in:\n\(r.result.stderr)")
        }
    }

    @Test func anHDF5StateDictByNameLoadsAsItsSafetensorsTwinDoes() throws {
        let ws = try Workspace("import-weights-hdf5", train: 8, test: 8)
        let modelPath = try ws.write("model.yaml", tinyImportModel)
        let tensors = safetensors(header: "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,3,3],\"data_offsets\":[0,72]}}",
                                  body: float32(conv1))
        try tensors.write(to: URL(fileURLWithPath: ws.path("w.safetensors")))
        // h5py's layout: one dataset per state_dict key, dots kept; and the same split into groups.
        for (file, name) in [("flat.h5", "conv1.weight"), ("nested.h5", "conv1/weight")] {
            let h5 = try HDF5File.create(ws.path(file))
            try h5.root.write(conv1, shape: [2, 1, 3, 3], to: name)
            try h5.root.write([Int64(7)], shape: [], to: "bn1.num_batches_tracked")
            h5.close()
        }
        var outputs: [String] = []
        for file in ["w.safetensors", "flat.h5", "nested.h5"] {
            let out = ws.path("\(file).init.h5")
            let r = try ws.loom(["import-weights", ws.path(file), "--model", modelPath, "--out", out])
            #expect(r.status == 0, "\(file): \(r.stderr)")
            #expect(r.stdout.contains("loaded (1): conv1.weight"), "\(file): \(r.stdout)")
            outputs.append(out)
        }
        #expect(try ws.loom(["import-weights", ws.path("flat.h5"), "--model", modelPath, "--out", ws.path("x.h5")])
            .stdout.contains("skipped non-float bn1.num_batches_tracked (int64)"))
        for out in outputs.dropFirst() {
            let diff = try ws.loom(["diff", outputs[0], out])
            #expect(diff.status == 0, "\(out) differs from the safetensors import:\n\(diff.stdout)\(diff.stderr)")
        }
    }

    @Test func aHeaderLengthBeyondTheFileNamesBothSizes() throws {
        let ws = try Workspace("import-weights-header-length", train: 8, test: 8)
        var bytes = Data()
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += Data("{}".utf8)
        expectRefused(try importing(bytes, ws), ["weights.safetensors: truncated safetensors file",
                                                 "header of 1099511627776 bytes but the file has 10"])
    }

    @Test func aFileCutInsideItsHeaderLengthIsTruncated() throws {
        let ws = try Workspace("import-weights-short", train: 8, test: 8)
        expectRefused(try importing(Data([0x10, 0, 0, 0, 0]), ws), ["weights.safetensors: truncated safetensors file"])
    }

    @Test func aHeaderCutShortIsNotJSON() throws {
        let ws = try Workspace("import-weights-cut-header", train: 8, test: 8)
        let whole = safetensors(header: "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,3,3],\"data_offsets\":[0,72]}}",
                                body: float32(conv1))
        // The length still says the whole header: the file ends 30 bytes into it.
        expectRefused(try importing(whole.prefix(38), ws), ["weights.safetensors: truncated safetensors file"])
    }

    @Test func anUnknownDtypeNamesTheTensorAndTheDtype() throws {
        let ws = try Workspace("import-weights-dtype", train: 8, test: 8)
        let bytes = safetensors(header: "{\"conv1.weight\":{\"dtype\":\"FP32\",\"shape\":[2,1,3,3],\"data_offsets\":[0,72]}}",
                                body: float32(conv1))
        expectRefused(try importing(bytes, ws), ["weights.safetensors: tensor 'conv1.weight'", "FP32"])
    }

    @Test func aShapeItsBytesDoNotHoldNamesTheTensor() throws {
        let ws = try Workspace("import-weights-shape", train: 8, test: 8)
        let bytes = safetensors(header: "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,3,4],\"data_offsets\":[0,72]}}",
                                body: float32(conv1))
        expectRefused(try importing(bytes, ws), ["weights.safetensors: tensor 'conv1.weight'", "needs 96 bytes"])
    }

    @Test func aTorchSaveFileIsNamedAsSuchNotAsATruncatedSafetensorsFile() throws {
        // torch.save writes a ZIP archive; its first 8 bytes read as a huge header length.
        let ws = try Workspace("import-weights-torch-save", train: 8, test: 8)
        let zip = Data([0x50, 0x4B, 0x03, 0x04, 0x00, 0x00, 0x08, 0x08]) + Data("archive/data.pkl".utf8) + Data(count: 64)
        expectRefused(try importing(zip, name: "resnet18.pt", ws),
                      ["resnet18.pt: not a safetensors file: a ZIP archive (torch.save's format)", "safetensors.torch.save_file"])
        let pickle = Data([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20]) + Data(count: 64)
        expectRefused(try importing(pickle, name: "legacy.pt", ws), ["legacy.pt: not a safetensors file: a Python pickle"])
        // Neither, and no JSON header: the first bytes are shown.
        let other = Data([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x41]) + Data(count: 8)
        expectRefused(try importing(other, name: "other.bin", ws),
                      ["other.bin: not a safetensors file", "no JSON header follows (first bytes: 01 02 03 04 05 06 07 08 41 00"])
    }

    @Test func aHeaderThatIsNotJSONShowsHowItStarts() throws {
        let ws = try Workspace("import-weights-not-json", train: 8, test: 8)
        let bytes = safetensors(header: "{conv1.weight: F32, shape [2,1,3,3], data_offsets [0,72]}", body: float32(conv1))
        expectRefused(try importing(bytes, ws), ["weights.safetensors: not a safetensors file: the header (57 bytes from byte 8)"
                                                 + " is not JSON: it starts \"{conv1.weight: F32, shape [2,1,3,3], dat\"..."])
    }

    @Test func overlappingOrGappedDataOffsetsAreADamagedHeader() throws {
        let ws = try Workspace("import-weights-offsets", train: 8, test: 8)
        // bn1.weight's 8 bytes lie inside conv1.weight's 72.
        let overlap = safetensors(header: "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,3,3],\"data_offsets\":[0,72]},"
                                  + "\"bn1.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[64,72]}}",
                                  body: float32(conv1))
        expectRefused(try importing(overlap, ws), ["weights.safetensors: tensor 'bn1.weight': data_offsets [64, 72] overlap"
                                                   + " tensor 'conv1.weight' (ending at 72): a damaged header"])
        // 8 bytes between conv1.weight and bn1.weight belong to no tensor.
        let gap = safetensors(header: "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,3,3],\"data_offsets\":[0,72]},"
                              + "\"bn1.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[80,88]}}",
                              body: float32(conv1 + [0, 0, 1, 1]))
        expectRefused(try importing(gap, ws), ["tensor 'bn1.weight': data_offsets [80, 88] leave data bytes 72..<80 to no"
                                               + " tensor (after 'conv1.weight')"])
        // bn1.weight given bn1.bias's range: its own bytes 72..<80 are left to no tensor, but the
        // fault named is the shared range.
        let moved = safetensors(header: "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,3,3],\"data_offsets\":[0,72]},"
                                + "\"bn1.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[80,88]},"
                                + "\"bn1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[80,88]}}",
                                body: float32(conv1 + [1, 1, 0, 0]))
        expectRefused(try importing(moved, ws), ["tensor 'bn1.weight': data_offsets [80, 88] overlap tensor 'bn1.bias'"])
    }

    @Test func aMapPrefixThatNamesNoModelTensorIsATypoAtItsLine() throws {
        let ws = try Workspace("import-weights-map-loom", train: 8, test: 8)
        let bytes = safetensors(header: "{\"features.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,3,3],\"data_offsets\":[0,72]}}",
                                body: float32(conv1))
        expectRefused(try importing(bytes, map: "fc: features.0\nconvv1: features.0\n", ws),
                      ["map.yaml", ":2", "'convv1' names no tensor of the model"])
    }

    @Test func aMapSourcePrefixThatNamesNoFileTensorIsATypoAtItsLine() throws {
        let ws = try Workspace("import-weights-map-source", train: 8, test: 8)
        let bytes = safetensors(header: "{\"features.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,3,3],\"data_offsets\":[0,72]}}",
                                body: float32(conv1))
        expectRefused(try importing(bytes, map: "conv1: feature.0\n", ws),
                      ["map.yaml", ":1", "'feature.0' names no float tensor of"])
        // The same map without the typo loads conv1.
        let fixed = try importing(bytes, map: "conv1: features.0\n", ws)
        #expect(fixed.result.status == 0, "\(fixed.result.stderr)")
        #expect(fixed.result.stdout.contains("loaded (1): conv1.weight"), "\(fixed.result.stdout)")
    }

    @Test func aFileOfWhichNothingFitsIsAnErrorNotAnEmptyCheckpoint() throws {
        let ws = try Workspace("import-weights-nothing", train: 8, test: 8)
        let bytes = safetensors(header: "{\"features.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,3,3],\"data_offsets\":[0,72]}}",
                                body: float32(conv1))
        expectRefused(try importing(bytes, ws), ["weights.safetensors: none of its 1 float tensors fits the model"])
    }

    @Test func aMapThatIsNotYAMLNamesItsLine() throws {
        let ws = try Workspace("import-weights-map-yaml", train: 8, test: 8)
        let bytes = safetensors(header: "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,3,3],\"data_offsets\":[0,72]}}",
                                body: float32(conv1))
        expectRefused(try importing(bytes, map: "conv1: features.0\nfc: {classifier.1\n", ws), ["map.yaml"])
    }
}
