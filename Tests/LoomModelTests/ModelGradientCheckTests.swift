// Finite-difference check of a whole model using the layers the reference CNN does not:
// residual block, average and global pooling, dropout, 1-D batch norm, two heads (one with
// a hidden layer) sharing the trunk output.
import LoomConfig
import LoomKernels
import LoomModel
import Testing

private func mixedModel() throws -> Model {
    var config = ModelConfig()
    config.input = [2, 6, 6]
    var residual = layer(.residual, line: 3)
    residual.block = [layer(.conv2d, "r1", out: 3, padding: 1, line: 4), layer(.batchnorm2d, "rb", line: 5), layer(.relu, line: 6)]
    var dropout = layer(.dropout, line: 10)
    dropout.p = 0.3
    config.layers = [
        layer(.conv2d, "c1", out: 3, padding: 1, line: 2), residual, layer(.avgpool2d, kernel: 2, stride: 2, line: 7),
        layer(.flatten, line: 8), dropout, layer(.linear, "f1", out: 6, line: 11), layer(.batchnorm1d, "bn", line: 12),
    ]
    var first = HeadConfig(name: "a", kind: .softmax, classes: 3)
    first.hidden = [5]
    return try Model(model: config, heads: [first, HeadConfig(name: "b", kind: .softmax, classes: 2)])
}

@Test func mixedModelBackwardIsTheGradientOfForward() throws {
    let model = try mixedModel()
    let n = 4
    let workspace = model.makeWorkspace(maxBatch: n)
    let (parameters, buffers) = model.initialParameters(seed: 3)
    var random = KeyedRandom(seed: 8, purpose: .dataset)
    let input = (0..<(n * model.inputCount)).map { _ in random.nextFloat() * 2 - 1 }
    let dlogits = model.headOutputs.map { k in (0..<(n * k)).map { _ in random.nextFloat() * 2 - 1 } }
    let ids: [Int] = [10, 11, 12, 13]

    // L = Σ_heads Σ dlogits·logits, in Double.
    func loss(_ p: [Float]) throws -> Double {
        try model.forward(parameters: p, buffers: buffers, input: input, count: n, sampleIDs: ids, step: 2,
                          seed: 5, training: true, workspace: workspace)
        var total = 0.0
        for (h, d) in dlogits.enumerated() {
            let logits = workspace.logits(head: h)
            for i in 0..<d.count { total += Double(logits[i]) * Double(d[i]) }
        }
        return total
    }
    _ = try loss(parameters)
    for (h, d) in dlogits.enumerated() { workspace.dlogits(head: h).update(from: d, count: d.count) }
    var gradients = [Float](repeating: 0, count: model.parameters.count)
    try model.backward(parameters: parameters, workspace: workspace, gradients: &gradients)

    // Steps of 1e-3: small enough for batch norm over 4 samples to look linear, large
    // enough for float32 forward passes.
    var worst = 0.0
    for view in model.parameters.views {
        for i in stride(from: view.offset, to: view.offset + view.count, by: 3) {
            var plus = parameters, minus = parameters
            plus[i] += 1e-3
            minus[i] -= 1e-3
            let numerical = (try loss(plus) - loss(minus)) / Double(plus[i] - minus[i])
            worst = max(worst, abs(numerical - Double(gradients[i])) / max(1, abs(numerical)))
        }
    }
    #expect(worst < 1e-2, "worst relative gradient error \(worst)")
}

@Test func twoHeadsAddTheirGradientsIntoTheSharedTrunk() throws {
    // Two identical heads on one trunk: the trunk gradient is twice that of one head.
    var config = ModelConfig()
    config.input = [1, 4, 4]
    config.layers = [layer(.conv2d, "c", out: 2, padding: 1), layer(.flatten)]
    let one = try Model(model: config, heads: [HeadConfig(name: "a", kind: .softmax, classes: 3)])
    let two = try Model(model: config, heads: [HeadConfig(name: "a", kind: .softmax, classes: 3),
                                               HeadConfig(name: "b", kind: .softmax, classes: 3)])
    let p1 = one.initialParameters(seed: 1).parameters
    let head = slice(p1, one.parameters, "head.a.weight") + slice(p1, one.parameters, "head.a.bias")
    let p2 = p1 + head
    let input = (0..<32).map { Float($0 % 7) / 7 - 0.4 }
    var grads: [[Float]] = []
    for (model, p) in [(one, p1), (two, p2)] {
        let ws = model.makeWorkspace(maxBatch: 2)
        try model.forward(parameters: p, buffers: [], input: input, count: 2, training: false, workspace: ws)
        for h in model.headOutputs.indices { ws.dlogits(head: h).update(repeating: 0.25, count: 6) }
        var g = [Float](repeating: 0, count: model.parameters.count)
        try model.backward(parameters: p, workspace: ws, gradients: &g)
        grads.append(slice(g, model.parameters, "c.weight"))
    }
    #expect(zip(grads[0], grads[1]).allSatisfy { abs(2 * $0 - $1) <= 1e-6 * max(1, abs($1)) })
}
