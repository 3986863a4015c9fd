// Finite-difference check of the blocks of ResNet- and EfficientNet-class models: a residual
// block with a projection shortcut, depthwise (strided and not) and pointwise convolutions,
// SiLU, squeeze-and-excitation (both activations) and a concatenation of branches.
import LoomKernels
import LoomModel
import Testing

private let blocksModel = """
input: [3, 7, 7]
layers:
  - kind: residual
    block:
      - {kind: conv2d, name: r.conv1, out: 4, kernel: 3, stride: 2, padding: 1}
      - {kind: silu}
      - {kind: depthwise2d, name: r.dw, kernel: 3, padding: 1}
    shortcut:
      - {kind: conv2d, name: r.down, out: 4, kernel: 1, stride: 2}
      - {kind: batchnorm2d, name: r.bn}
  - {kind: squeeze_excite, name: se1, squeeze: 2, activation: silu}
  - kind: concat
    branches:
      - [{kind: depthwise2d, name: c.dw, kernel: 3, stride: 2, padding: 1, bias: false}, {kind: relu}]
      - [{kind: conv2d, name: c.pw, out: 3, kernel: 1, stride: 2}, {kind: squeeze_excite, name: se2, squeeze: 2}]
  - {kind: flatten}
heads:
  - {name: a, kind: softmax, classes: 3}
"""

@Test func blocksBackwardIsTheGradientOfForward() throws {
    let model = try fixtureModel(blocksModel, case: "gradient-check")
    let n = 3
    let workspace = model.makeWorkspace(maxBatch: n)
    let (parameters, buffers) = model.initialParameters(seed: 4)
    var random = KeyedRandom(seed: 9, purpose: .dataset)
    let input = (0..<(n * model.inputCount)).map { _ in random.nextFloat() * 2 - 1 }
    let dlogits = (0..<(n * model.headOutputs[0])).map { _ in random.nextFloat() * 2 - 1 }

    // L = Σ dlogits·logits, in Double.
    func loss(_ p: [Float]) throws -> Double {
        try model.forward(parameters: p, buffers: buffers, input: input, count: n, training: true, workspace: workspace)
        let logits = workspace.logits(head: 0)
        return dlogits.indices.reduce(0.0) { $0 + Double(logits[$1]) * Double(dlogits[$1]) }
    }
    _ = try loss(parameters)
    workspace.dlogits(head: 0).update(from: dlogits, count: dlogits.count)
    var gradients = [Float](repeating: 0, count: model.parameters.count)
    try model.backward(parameters: parameters, workspace: workspace, gradients: &gradients)

    var worst = 0.0
    var checked = 0
    for view in model.parameters.views {
        for i in stride(from: view.offset, to: view.offset + view.count, by: 2) {
            var plus = parameters, minus = parameters
            plus[i] += 1e-3
            minus[i] -= 1e-3
            let numerical = (try loss(plus) - loss(minus)) / Double(plus[i] - minus[i])
            worst = max(worst, abs(numerical - Double(gradients[i])) / max(1, abs(numerical)))
            checked += 1
        }
    }
    #expect(checked > 100)
    #expect(worst < 1e-2, "worst relative gradient error \(worst) over \(checked) parameters")
}

@Test func depthwiseKernelGivesTheSameBitsForAnyBatchSplit() throws {
    // One sample at a time or all together: a sample's output and the summed weight
    // gradient (added in sample order) are identical.
    let shape = DepthwiseShape(channels: 3, height: 9, width: 11, kernel: 3, stride: 1, padding: 1)
    var random = KeyedRandom(seed: 2, purpose: .dataset)
    let n = 4, inCount = 3 * 9 * 11, outCount = 3 * shape.outHeight * shape.outWidth
    let x = (0..<(n * inCount)).map { _ in random.nextFloat() - 0.5 }
    let dy = (0..<(n * outCount)).map { _ in random.nextFloat() - 0.5 }
    let w = (0..<27).map { _ in random.nextFloat() - 0.5 }
    var yAll = [Float](repeating: 0, count: n * outCount), dwAll = [Float](repeating: 0, count: 27)
    depthwiseForward(y: &yAll, x: x, weight: w, bias: nil, batch: n, shape: shape)
    depthwiseBackward(dx: nil, dweight: &dwAll, dbias: nil, dy: dy, x: x, weight: w, batch: n, shape: shape)
    var ySplit = [Float](repeating: 0, count: n * outCount), dwSplit = [Float](repeating: 0, count: 27)
    for s in 0..<n {
        ySplit.withUnsafeMutableBufferPointer { y in
            depthwiseForward(y: y.baseAddress! + s * outCount, x: Array(x[(s * inCount)..<((s + 1) * inCount)]),
                             weight: w, bias: nil, batch: 1, shape: shape)
        }
        depthwiseBackward(dx: nil, dweight: &dwSplit, dbias: nil, dy: Array(dy[(s * outCount)..<((s + 1) * outCount)]),
                          x: Array(x[(s * inCount)..<((s + 1) * inCount)]), weight: w, batch: 1, shape: shape)
    }
    #expect(yAll == ySplit)
    #expect(dwAll == dwSplit)
}
