// Blocks and shipped models against their PyTorch twins (Tests/Fixtures/blocks.h5): each case
// is a Loom model file; one training-mode pass on one batch must give PyTorch's logits, every
// parameter gradient and every batch norm's batch statistics.
import Foundation
import LoomConfig
import LoomHDF5
import LoomKernels
import LoomModel
import LoomTestSupport
import Testing

/// The model a fixture case's `model` attribute describes, read through a real model file.
func fixtureModel(_ text: String, case name: String) throws -> Model {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("loom-blocks-\(getpid())-\(name)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try text.write(to: folder.appendingPathComponent("model.yaml"), atomically: true, encoding: .utf8)
    let config = try ConfigLoader.parse(yaml: "model:\n  file: model.yaml\n",
                                        source: folder.appendingPathComponent("run.yaml").path, defaultName: name)
    return try Model(model: config.model, heads: config.heads)
}

/// Compares within rtol 1e-3 or an absolute 1e-4 of the tensor's largest magnitude (sums
/// taken in another order than PyTorch's, through several batch norms).
private func assertMatches(_ ours: [Float], _ expected: [Float], _ what: String) {
    let scale = expected.map(abs).max() ?? 0
    assertClose(ours, expected, rtol: 1e-3, atol: max(1e-6, 1e-4 * scale), what)
}

private func checkFixtureCase(_ name: String) throws {
    BLAS.useSingleThread()
    let group = try Fixtures.open("blocks.h5").root.group(name)
    let text = try #require(try group.stringAttribute("model"))
    let model = try fixtureModel(text, case: name)
    let initial = try group.group("init")
    #expect(Set(model.parameters.names + model.buffers.names) == Set(try initial.children()))
    let parameters = try readFlat(model.parameters, from: initial)
    let buffers = try readFlat(model.buffers, from: initial)
    let x = try group.read(Float.self, "x").values
    let dlogits = try group.read(Float.self, "dlogits").values
    let n = x.count / model.inputCount
    let workspace = model.makeWorkspace(maxBatch: n)
    try model.forward(parameters: parameters, buffers: buffers, input: x, count: n, sampleIDs: Array(0..<n),
                      training: true, workspace: workspace)
    let k = model.headOutputs[0]
    assertMatches(Array(UnsafeBufferPointer(start: workspace.logits(head: 0), count: n * k)),
                  try group.read(Float.self, "logits").values, "\(name) logits")
    let statistics = Array(UnsafeBufferPointer(start: workspace.batchStatistics, count: model.buffers.count))
    for view in model.buffers.views {
        let norm = String(view.name.prefix(upTo: view.name.lastIndex(of: ".")!))
        let stored = view.name.hasSuffix(".running_mean") ? "batch_mean/\(norm)" : "batch_var/\(norm)"
        assertMatches(slice(statistics, model.buffers, view.name), try group.read(Float.self, stored).values,
                      "\(name) \(stored)")
    }
    workspace.dlogits(head: 0).update(from: dlogits, count: dlogits.count)
    var gradients = [Float](repeating: 0, count: model.parameters.count)
    try model.backward(parameters: parameters, workspace: workspace, gradients: &gradients)
    for view in model.parameters.views {
        assertMatches(slice(gradients, model.parameters, view.name), try group.read(Float.self, "grad/\(view.name)").values,
                      "\(name) grad \(view.name)")
    }
}

@Test func residualBlockWithProjectionShortcutMatchesPyTorch() throws {
    try checkFixtureCase("residual_basic_downsample")
}

@Test func bottleneckBlockWithProjectionShortcutMatchesPyTorch() throws {
    try checkFixtureCase("residual_bottleneck_downsample")
}

@Test func depthwisePointwiseAndSiLUMatchPyTorch() throws {
    try checkFixtureCase("depthwise_pointwise_silu")
}

@Test func mbconvWithSqueezeExcitationMatchesPyTorch() throws {
    try checkFixtureCase("mbconv_squeeze_excite")
}

@Test func inceptionStyleConcatenationMatchesPyTorch() throws {
    try checkFixtureCase("inception_concat")
}

@Test func shippedResNet20MatchesPyTorch() throws {
    try checkFixtureCase("model_resnet_20")
}

@Test func shippedMobileNetSmallMatchesPyTorch() throws {
    try checkFixtureCase("model_mobilenet_small")
}

@Test func fixtureModelsAreTheShippedFiles() throws {
    // The fixture holds the model file's text: a changed shipped model needs a new fixture.
    let root = try Fixtures.open("blocks.h5").root
    for (fixture, file) in [("model_resnet_20", "resnet-20.yaml"), ("model_mobilenet_small", "mobilenet-small.yaml")] {
        let shipped = try String(contentsOf: TestPaths.repositoryRoot.appendingPathComponent("configs/models/\(file)"),
                                 encoding: .utf8)
        #expect(try root.group(fixture).stringAttribute("model") == shipped, "\(file)")
    }
}
