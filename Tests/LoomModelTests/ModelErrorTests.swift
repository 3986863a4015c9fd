// Impossible networks are errors that name the layer and its config line.
import LoomConfig
import LoomModel
import Testing

private func buildError(_ layers: [LayerConfig], heads: [HeadConfig]? = nil) -> ModelError? {
    var model = ModelConfig()
    model.input = [1, 8, 8]
    model.layers = layers
    do {
        _ = try Model(model: model, heads: heads ?? [HeadConfig(name: "h", kind: .softmax, classes: 3)])
        return nil
    } catch {
        return error
    }
}

@Test func kernelLargerThanPaddedInputNamesTheLayer() throws {
    let error = try #require(buildError([layer(.conv2d, "big", out: 4, kernel: 11, padding: 1, line: 7)]))
    #expect(error.description.contains("'big'") && error.description.contains("line 7"))
}

@Test func linearAfterConvWithoutFlattenIsAnError() throws {
    let error = try #require(buildError([layer(.conv2d, "c", out: 4, line: 3), layer(.linear, "f", out: 5, line: 4)]))
    #expect(error.description.contains("'f'") && error.description.contains("line 4")
        && error.description.contains("flatten"))
}

@Test func batchNormChannelMismatchIsAnError() throws {
    let error = try #require(buildError([layer(.conv2d, "c", out: 4, line: 3), layer(.batchnorm2d, "bn", out: 5, line: 4)]))
    #expect(error.description.contains("'bn'") && error.description.contains("line 4"))
}

@Test func duplicateLayerNameNamesBothLines() throws {
    let error = try #require(buildError([layer(.conv2d, "c", out: 4, line: 3), layer(.conv2d, "c", out: 4, line: 9)]))
    #expect(error == .duplicateName(name: "c", line: 9, firstLine: 3))
}

@Test func headLayerNameMayNotRepeatATrunkName() throws {
    var head = HeadConfig(name: "h", kind: .softmax, classes: 3, layer: "c")
    head.line = 20
    let error = try #require(buildError([layer(.conv2d, "c", out: 4, line: 3), layer(.flatten)], heads: [head]))
    #expect(error == .duplicateName(name: "c", line: 20, firstLine: 3))
}

@Test func layerWithParametersNeedsAName() throws {
    let error = try #require(buildError([layer(.conv2d, out: 4, line: 5)]))
    #expect(error.description.contains("line 5") && error.description.contains("conv2d"))
}

@Test func headWithoutClassesIsAnError() throws {
    let error = try #require(buildError([layer(.flatten)], heads: [HeadConfig(name: "colour", kind: .softmax)]))
    #expect(error.description.contains("colour"))
}

@Test func residualBlockThatChangesTheShapeIsAnError() throws {
    var block = layer(.residual, line: 6)
    block.block = [layer(.conv2d, "inner", out: 5, padding: 1, line: 7)]
    let error = try #require(buildError([layer(.conv2d, "c", out: 4, padding: 1, line: 3), block]))
    #expect(error.description.contains("line 6"))
}

@Test func forwardRefusesABatchLargerThanTheWorkspace() throws {
    let model = try referenceModel()
    let workspace = model.makeWorkspace(maxBatch: 2)
    let (parameters, buffers) = model.initialParameters(seed: 1)
    let input = [Float](repeating: 0, count: 3 * model.inputCount)
    #expect(throws: ModelError.batchTooLarge(count: 3, capacity: 2)) {
        try model.forward(parameters: parameters, buffers: buffers, input: input, count: 3, training: false,
                          workspace: workspace)
    }
}
