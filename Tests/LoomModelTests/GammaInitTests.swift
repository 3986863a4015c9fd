// batchnorm2d's `gamma_init`: the starting value of the batch norm's weight. 0 on the last
// batch norm of a residual body makes the block start as its shortcut (zero-init residual);
// it moves nothing else, and imported weights replace it like any initial value.
import LoomCheckpoint
import LoomConfig
import LoomKernels
import LoomModel
import LoomTestSupport
import Testing

private func residualModel(gammaInit: String) -> String {
    """
    input: [1, 8, 8]
    layers:
      - {kind: conv2d, name: stem, out: 4, kernel: 3, padding: 1, bias: false}
      - {kind: batchnorm2d, name: stem_bn}
      - {kind: relu}
      - kind: residual
        block:
          - {kind: conv2d, name: b.conv1, out: 4, kernel: 3, padding: 1, bias: false}
          - {kind: batchnorm2d, name: b.bn1}
          - {kind: relu}
          - {kind: conv2d, name: b.conv2, out: 4, kernel: 3, padding: 1, bias: false}
          - {kind: batchnorm2d, name: b.bn2\(gammaInit)}
      - {kind: relu}
      - {kind: globalavgpool}
      - {kind: flatten}
    heads:
      - {name: category, kind: softmax, classes: 3, layer: fc}
    """
}

@Test func gammaInitSetsOnlyThatBatchNormsWeight() throws {
    let zero = try fixtureModel(residualModel(gammaInit: ", gamma_init: 0"), case: "gamma-zero")
    let plain = try fixtureModel(residualModel(gammaInit: ""), case: "gamma-default")
    let half = try fixtureModel(residualModel(gammaInit: ", gamma_init: 0.5"), case: "gamma-half")
    #expect(zero.parameters.names == plain.parameters.names)
    let (p0, b0) = zero.initialParameters(seed: 3)
    let (p1, b1) = plain.initialParameters(seed: 3)
    #expect(slice(p0, zero.parameters, "b.bn2.weight") == [0, 0, 0, 0])
    #expect(slice(p1, plain.parameters, "b.bn2.weight") == [1, 1, 1, 1])
    #expect(slice(half.initialParameters(seed: 3).parameters, half.parameters, "b.bn2.weight") == [0.5, 0.5, 0.5, 0.5])
    // Everything else is drawn as before: the same seed gives the same bits.
    for view in zero.parameters.views where view.name != "b.bn2.weight" {
        #expect(slice(p0, zero.parameters, view.name) == slice(p1, plain.parameters, view.name), "\(view.name)")
    }
    #expect(b0 == b1)
    #expect(zero.initialParameters(seed: 3).parameters == p0)
}

@Test func aZeroGammaResidualBodyStartsAsItsShortcut() throws {
    // With b.bn2's weight 0 and its bias 0 the body adds nothing: the logits are those of the
    // same network whose residual block is removed (same stem and head weights).
    let zero = try fixtureModel(residualModel(gammaInit: ", gamma_init: 0"), case: "gamma-body")
    let noBlock = try fixtureModel("""
        input: [1, 8, 8]
        layers:
          - {kind: conv2d, name: stem, out: 4, kernel: 3, padding: 1, bias: false}
          - {kind: batchnorm2d, name: stem_bn}
          - {kind: relu}
          - {kind: relu}
          - {kind: globalavgpool}
          - {kind: flatten}
        heads:
          - {name: category, kind: softmax, classes: 3, layer: fc}
        """, case: "gamma-noblock")
    let (p, b) = zero.initialParameters(seed: 9)
    var q = [Float](repeating: 0, count: noBlock.parameters.count)
    for view in noBlock.parameters.views { q.replaceSubrange(view.range, with: slice(p, zero.parameters, view.name)) }
    var r = [Float](repeating: 0, count: noBlock.buffers.count)
    for view in noBlock.buffers.views { r.replaceSubrange(view.range, with: slice(b, zero.buffers, view.name)) }
    var random = KeyedRandom(seed: 4, purpose: .dataset)
    let x = (0..<(2 * 64)).map { _ in random.nextFloat() - 0.5 }
    func logits(_ model: Model, _ parameters: [Float], _ buffers: [Float]) throws -> [Float] {
        let workspace = model.makeWorkspace(maxBatch: 2)
        try model.forward(parameters: parameters, buffers: buffers, input: x, count: 2, training: true, workspace: workspace)
        return Array(UnsafeBufferPointer(start: workspace.logits(head: 0), count: 6))
    }
    let withBlock = try logits(zero, p, b)
    #expect(withBlock == (try logits(noBlock, q, r)))
    // With the default weight 1 the body does add to the shortcut.
    let plain = try fixtureModel(residualModel(gammaInit: ""), case: "gamma-body-plain")
    #expect(try logits(plain, plain.initialParameters(seed: 9).parameters, b) != withBlock)
}

@Test func importedWeightsReplaceAZeroGamma() throws {
    let zero = try fixtureModel(residualModel(gammaInit: ", gamma_init: 0"), case: "gamma-import")
    let (p, _) = zero.initialParameters(seed: 1)
    var tensors = zero.parameters.views.map { NamedTensor(name: $0.name, shape: $0.shape, values: Array(p[$0.range])) }
    let report = WeightImport.apply(source: [NamedTensor(name: "b.bn2.weight", shape: [4], values: [2, 3, 4, 5])],
                                    to: &tensors)
    #expect(report.loaded == ["b.bn2.weight"])
    #expect(tensors.first { $0.name == "b.bn2.weight" }?.values == [2, 3, 4, 5])
}

@Test func gammaInitIsCheckedAndBelongsToBatchNormsOnly() throws {
    do {
        _ = try fixtureModel(residualModel(gammaInit: ", gamma_init: -1"), case: "gamma-negative")
        Issue.record("a negative gamma_init was accepted")
    } catch {
        #expect("\(error)".contains("gamma_init"))
    }
    do {
        _ = try fixtureModel(residualModel(gammaInit: "").replacingOccurrences(
            of: "name: stem, out: 4,", with: "name: stem, out: 4, gamma_init: 0,"), case: "gamma-conv")
        Issue.record("gamma_init on a conv2d was accepted")
    } catch {
        #expect("\(error)".contains("gamma_init"))
    }
    // A changed gamma_init is a changed model (a resume reports it).
    var a = LayerConfig(kind: .batchnorm2d, name: "bn")
    let b = a
    a.gammaInit = 0
    #expect(a != b)
}
