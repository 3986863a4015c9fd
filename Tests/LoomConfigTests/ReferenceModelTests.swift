// configs/models/reference-cnn.yaml describes exactly the model of
// Tests/Fixtures/reference_cnn.h5: same layers, names and parameter shapes.

import Foundation
import LoomConfig
import Testing

/// The fixture's state_dict (from `h5ls -r reference_cnn.h5`, group /init, without
/// num_batches_tracked): name -> shape.
private let fixtureParameters: [String: [Int]] = [
    "c1.weight": [32, 1, 3, 3], "c1.bias": [32],
    "b1.weight": [32], "b1.bias": [32], "b1.running_mean": [32], "b1.running_var": [32],
    "c2.weight": [64, 32, 3, 3], "c2.bias": [64],
    "b2.weight": [64], "b2.bias": [64], "b2.running_mean": [64], "b2.running_var": [64],
    "f1.weight": [128, 3136], "f1.bias": [128],
    "f2.weight": [10, 128], "f2.bias": [10],
]

/// PyTorch state_dict shapes implied by a config: a small shape walk over the layer list.
private func parameterShapes(_ config: RunConfig) -> [String: [Int]] {
    var shape = config.model.input          // (C, H, W) or (F)
    var params: [String: [Int]] = [:]
    for layer in config.model.layers {
        switch layer.kind {
        case .conv2d:
            params["\(layer.name).weight"] = [layer.out, shape[0], layer.kernel, layer.kernel]
            if layer.bias { params["\(layer.name).bias"] = [layer.out] }
            let side = { (n: Int) in (n + 2 * layer.padding - layer.kernel) / layer.stride + 1 }
            shape = [layer.out, side(shape[1]), side(shape[2])]
        case .maxpool2d, .avgpool2d:
            let side = { (n: Int) in (n + 2 * layer.padding - layer.kernel) / layer.stride + 1 }
            shape = [shape[0], side(shape[1]), side(shape[2])]
        case .batchnorm2d, .batchnorm1d:
            for p in ["weight", "bias", "running_mean", "running_var"] { params["\(layer.name).\(p)"] = [shape[0]] }
        case .flatten:
            shape = [shape.reduce(1, *)]
        case .linear:
            params["\(layer.name).weight"] = [layer.out, shape[0]]
            if layer.bias { params["\(layer.name).bias"] = [layer.out] }
            shape = [layer.out]
        default:
            break
        }
    }
    for head in config.heads {
        params["\(head.layer).weight"] = [head.classes, shape[0]]
        params["\(head.layer).bias"] = [head.classes]
    }
    return params
}

private func referenceConfig() throws -> RunConfig {
    // The quickstart's config trains the three-block CNN; the reference CNN is its model file's.
    try ConfigLoader.load(path: TestConfigs.path("configs/fashion-mnist.yaml"),
                          overrides: ["model.file=models/reference-cnn.yaml"])
}

@Test func referenceModelLayerSequenceMatchesTheFixture() throws {
    // The fixture's `model` attribute: conv3x3(1->32,pad1) BN ReLU maxpool2 conv3x3(32->64,pad1)
    // BN ReLU maxpool2 flatten dense(3136->128) ReLU dense(128->10).
    let layers = try referenceConfig().model.layers
    #expect(layers.map(\.kind) == [.conv2d, .batchnorm2d, .relu, .maxpool2d, .conv2d, .batchnorm2d, .relu,
                                   .maxpool2d, .flatten, .linear, .relu])
    #expect(layers.map(\.name) == ["c1", "b1", "", "", "c2", "b2", "", "", "", "f1", ""])
    let convs = layers.filter { $0.kind == .conv2d }
    #expect(convs.allSatisfy { $0.kernel == 3 && $0.stride == 1 && $0.padding == 1 && $0.bias })
    let pools = layers.filter { $0.kind == .maxpool2d }
    #expect(pools.allSatisfy { $0.kernel == 2 && $0.stride == 2 && $0.padding == 0 })
    // PyTorch BatchNorm2d defaults.
    #expect(layers.filter { $0.kind == .batchnorm2d }.allSatisfy { $0.momentum == 0.1 && $0.eps == 1e-5 })
}

@Test func referenceModelHeadIsTheTenWayF2Layer() throws {
    let heads = try referenceConfig().heads
    #expect(heads.count == 1)
    #expect(heads.first?.name == "category" && heads.first?.kind == .softmax)
    #expect(heads.first?.classes == 10 && heads.first?.layer == "f2")
}

@Test func referenceModelParameterShapesMatchTheFixture() throws {
    #expect(parameterShapes(try referenceConfig()) == fixtureParameters)
}

/// Guards the transcribed table above against the fixture file itself, when h5ls is installed.
@Test func fixtureTableMatchesTheFixtureFile() throws {
    let fixture = TestConfigs.repo.appendingPathComponent("Tests/Fixtures/reference_cnn.h5").path
    let h5ls = ["/usr/bin/h5ls", "/usr/local/bin/h5ls"].first { FileManager.default.isExecutableFile(atPath: $0) }
    #expect(FileManager.default.fileExists(atPath: fixture), "the fixture is part of the repository")
    guard let h5ls else { return }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: h5ls)
    process.arguments = [fixture + "/init"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    // Lines look like: `c1.weight  Dataset {32, 1, 3, 3}`.
    var found: [String: [Int]] = [:]
    for line in output.split(separator: "\n") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let name = parts.first, !name.hasSuffix("num_batches_tracked"),
              let open = line.firstIndex(of: "{"), let close = line.firstIndex(of: "}") else { continue }
        found[String(name)] = line[line.index(after: open)..<close]
            .split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }
    #expect(found == fixtureParameters)
}
