// `loom import-weights`' reading and matching: a torchvision-ResNet-18-shaped state_dict,
// written here as safetensors with random values (nothing is downloaded), loads into
// configs/models/resnet-18.yaml by name, except the 1000-class fc that does not fit a
// 10-class head.
import Foundation
import LoomCheckpoint
import LoomKernels
import LoomModel
import LoomTestSupport
import Testing

/// torchvision resnet18's state_dict: (name, shape, dtype), in its order.
private func torchvisionResNet18() -> [(String, [Int], String)] {
    var entries: [(String, [Int], String)] = []
    func norm(_ p: String, _ c: Int) {
        entries += [("\(p).weight", [c], "F32"), ("\(p).bias", [c], "F32"), ("\(p).running_mean", [c], "F32"),
                    ("\(p).running_var", [c], "F32"), ("\(p).num_batches_tracked", [], "I64")]
    }
    entries.append(("conv1.weight", [64, 3, 7, 7], "F32"))
    norm("bn1", 64)
    var inChannels = 64
    for (stage, width) in [64, 128, 256, 512].enumerated() {
        for block in 0..<2 {
            let p = "layer\(stage + 1).\(block)"
            let first = block == 0 ? inChannels : width
            entries.append(("\(p).conv1.weight", [width, first, 3, 3], "F32"))
            norm("\(p).bn1", width)
            entries.append(("\(p).conv2.weight", [width, width, 3, 3], "F32"))
            norm("\(p).bn2", width)
            if block == 0 && stage > 0 {
                entries.append(("\(p).downsample.0.weight", [width, inChannels, 1, 1], "F32"))
                norm("\(p).downsample.1", width)
            }
        }
        inChannels = width
    }
    entries += [("fc.weight", [1000, 512], "F32"), ("fc.bias", [1000], "F32")]
    return entries
}

/// A safetensors file: 8-byte little-endian header length, JSON header, tensor bytes.
private func safetensors(_ entries: [(String, [Int], String)], values: [String: [Float]]) -> Data {
    var header: [String] = ["\"__metadata__\":{\"format\":\"pt\"}"]
    var body = Data()
    for (name, shape, dtype) in entries {
        let begin = body.count
        if dtype == "F32" {
            for v in values[name]! { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
        } else {
            withUnsafeBytes(of: Int64(7).littleEndian) { body.append(contentsOf: $0) }
        }
        let dims = shape.map(String.init).joined(separator: ",")
        header.append("\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(dims)],\"data_offsets\":[\(begin),\(body.count)]}")
    }
    let json = Data(("{" + header.joined(separator: ",") + "}").utf8)
    var file = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
    return file + json + body
}

@Test func torchvisionResNet18StateDictLoadsIntoResNet18() throws {
    let entries = torchvisionResNet18()
    var random = KeyedRandom(seed: 11, purpose: .dataset)
    var values: [String: [Float]] = [:]
    for (name, shape, dtype) in entries where dtype == "F32" {
        values[name] = (0..<shape.reduce(1, *)).map { _ in random.nextFloat() - 0.5 }
    }
    let parsed = try SafeTensorsFile.parse(safetensors(entries, values: values), path: "resnet18.safetensors")
    #expect(parsed.skipped.count == 20)  // the int64 num_batches_tracked of 20 batch norms
    #expect(parsed.tensors.map(\.name) == entries.filter { $0.2 == "F32" }.map(\.0))

    let text = try String(contentsOf: TestPaths.repositoryRoot.appendingPathComponent("configs/models/resnet-18.yaml"),
                          encoding: .utf8)
    let model = try fixtureModel(text, case: "resnet-18")
    let (parameters, buffers) = model.initialParameters(seed: 1)
    var tensors = model.parameters.views.map { NamedTensor(name: $0.name, shape: $0.shape, values: Array(parameters[$0.range])) }
        + model.buffers.views.map { NamedTensor(name: $0.name, shape: $0.shape, values: Array(buffers[$0.range])) }
    let fresh = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.values) })
    let report = WeightImport.apply(source: parsed.tensors, to: &tensors)

    #expect(report.loaded.count == tensors.count - 2)
    #expect(report.didNotFit.map { String($0.prefix { $0 != ":" }) } == ["fc.weight", "fc.bias"])
    #expect(report.leftAtInit.isEmpty)
    #expect(report.unused.isEmpty)
    for t in tensors {
        #expect(t.values == (report.loaded.contains(t.name) ? values[t.name]! : fresh[t.name]!), "\(t.name)")
    }
}

@Test func mapRenamesPrefixesAndMissingTensorsStayAtInit() throws {
    var tensors = [NamedTensor(name: "stem.conv.weight", shape: [2, 1, 1, 1], values: [0, 0]),
                   NamedTensor(name: "head.fc.weight", shape: [3, 2], values: [1, 1, 1, 1, 1, 1])]
    let source = [NamedTensor(name: "features.0.0.weight", shape: [2, 1, 1, 1], values: [5, 6]),
                  NamedTensor(name: "classifier.weight", shape: [1000, 2], values: [Float](repeating: 0, count: 2000))]
    let report = WeightImport.apply(source: source, to: &tensors, prefixes: ["stem.conv": "features.0.0"])
    #expect(report.loaded == ["stem.conv.weight"])
    #expect(tensors[0].values == [5, 6])
    #expect(report.leftAtInit == ["head.fc.weight"])
    #expect(report.unused == ["classifier.weight"])
}

@Test func truncatedSafetensorsIsAClearError() throws {
    let data = safetensors([("w", [4], "F32")], values: ["w": [1, 2, 3, 4]])
    #expect(throws: SafeTensorsError.self) { try SafeTensorsFile.parse(data.prefix(data.count - 3), path: "x.safetensors") }
    #expect(throws: SafeTensorsError.self) { try SafeTensorsFile.parse(Data([1, 0, 0]), path: "x.safetensors") }
    let parsed = try SafeTensorsFile.parse(data, path: "x.safetensors")
    #expect(parsed.tensors == [NamedTensor(name: "w", shape: [4], values: [1, 2, 3, 4])])
}
