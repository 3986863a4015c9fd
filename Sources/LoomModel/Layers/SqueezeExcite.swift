// squeeze_excite: torchvision `SqueezeExcitation(C, squeeze, activation)` — x scaled per
// channel by σ(fc2(act(fc1(mean_hw x)))); parameters `<name>.fc1.weight` [squeeze, C, 1, 1],
// `<name>.fc1.bias`, `<name>.fc2.weight` [C, squeeze, 1, 1], `<name>.fc2.bias`.
import LoomKernels

struct SqueezeExciteOperation: Operation {
    var shape: SqueezeExciteShape
    var input: Int, output: Int
    /// Slot holding the per-sample vectors the backward pass needs; its gradient half is scratch.
    var saved: Int
    var w1: Int, b1: Int, w2: Int, b2: Int
    var inputNeedsGradient: Bool

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        try l.requireName()
        let layer = l.layer
        guard case let .spatial(c, h, w) = l.shape else {
            throw l.fail("squeeze_excite needs a [C, H, W] input, got \(l.shape)")
        }
        guard layer.squeeze > 0 else { throw l.fail("squeeze_excite needs squeeze > 0") }
        let r = layer.squeeze
        let (w1, b1) = b.addAffine(prefix: layer.name + ".fc1", weightShape: [r, c, 1, 1], bias: true, fanIn: c,
                                   layer: l.index, isHead: l.isHead)
        let (w2, b2) = b.addAffine(prefix: layer.name + ".fc2", weightShape: [c, r, 1, 1], bias: true, fanIn: r,
                                   layer: l.index, isHead: l.isHead)
        let s = SqueezeExciteShape(channels: c, spatial: h * w, squeezed: r, silu: layer.activation == .silu)
        let saved = b.newSlot(max(s.savedCount, c + r))
        let output = b.newSlot(l.shape.count)
        b.flops += 4 * c * r + 2 * c * h * w
        return LayerOutput(operation: SqueezeExciteOperation(shape: s, input: l.slot, output: output, saved: saved,
                                                             w1: w1, b1: b1!, w2: w2, b2: b2!,
                                                             inputNeedsGradient: l.needsGradient),
                           slot: output, shape: l.shape)
    }

    func forward(_ f: ForwardPass) {
        let (ws, p) = (f.ws, f.parameters)
        squeezeExciteForward(y: ws.activation(output), saved: ws.activation(saved), x: ws.activation(input),
                             w1: p + w1, b1: p + b1, w2: p + w2, b2: p + b2, batch: f.n, shape: shape)
    }

    func backward(_ b: BackwardPass) {
        let (ws, p, g) = (b.ws, b.parameters, b.gradients)
        squeezeExciteBackward(dx: inputNeedsGradient ? ws.gradient(input) : nil, dw1: g + w1, db1: g + b1,
                              dw2: g + w2, db2: g + b2, dy: ws.gradient(output), x: ws.activation(input),
                              saved: ws.activation(saved), w1: p + w1, w2: p + w2, scratch: ws.gradient(saved),
                              batch: b.n, shape: shape)
    }
}
