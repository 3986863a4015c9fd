// linear: PyTorch `nn.Linear` (weight [out, in], optional bias) on a flat input.
import LoomKernels

struct LinearOperation: Operation {
    var inFeatures: Int, outFeatures: Int
    var input: Int, output: Int
    var weight: Int, bias: Int?
    var inputNeedsGradient: Bool
    /// Several heads read the trunk output: all but the first add their input gradient.
    var accumulatesInputGradient: Bool

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        try l.requireName()
        let layer = l.layer
        guard case let .flat(f) = l.shape else {
            throw l.fail("linear needs a flat input, got \(l.shape): add a flatten layer before it")
        }
        guard layer.out > 0 else { throw l.fail("linear needs out > 0") }
        let (weight, bias) = b.addAffine(prefix: layer.name, weightShape: [layer.out, f], bias: layer.bias,
                                         fanIn: f, layer: l.index, isHead: l.isHead)
        let output = b.newSlot(layer.out)
        b.flops += 2 * f * layer.out
        return LayerOutput(operation: LinearOperation(inFeatures: f, outFeatures: layer.out, input: l.slot,
                                                      output: output, weight: weight, bias: bias,
                                                      inputNeedsGradient: l.needsGradient,
                                                      accumulatesInputGradient: false),
                           slot: output, shape: .flat(features: layer.out))
    }

    func forward(_ f: ForwardPass) {
        linearForward(y: f.ws.activation(output), x: f.ws.activation(input), weight: f.parameters + weight,
                      bias: bias.map { f.parameters + $0 }, batch: f.n, inFeatures: inFeatures, outFeatures: outFeatures)
    }

    func backward(_ b: BackwardPass) {
        let ws = b.ws
        linearBackward(dx: inputNeedsGradient ? ws.gradient(input) : nil, dweight: b.gradients + weight,
                       dbias: bias.map { b.gradients + $0 }, dy: ws.gradient(output), x: ws.activation(input),
                       weight: b.parameters + weight, batch: b.n, inFeatures: inFeatures, outFeatures: outFeatures,
                       accumulateInput: accumulatesInputGradient)
    }
}
