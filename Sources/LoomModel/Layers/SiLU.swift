// silu: x·σ(x) (PyTorch `nn.SiLU`). Never in place: its backward pass reads the input.
import LoomKernels

struct SiLUOperation: Operation {
    var count: Int
    var input: Int, output: Int
    var inputNeedsGradient: Bool

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        let output = b.newSlot(l.shape.count)
        return LayerOutput(operation: SiLUOperation(count: l.shape.count, input: l.slot, output: output,
                                                    inputNeedsGradient: l.needsGradient),
                           slot: output, shape: l.shape)
    }

    func forward(_ f: ForwardPass) {
        siluForward(y: f.ws.activation(output), x: f.ws.activation(input), count: f.n * count)
    }

    func backward(_ b: BackwardPass) {
        guard inputNeedsGradient else { return }
        siluBackward(dx: b.ws.gradient(input), dy: b.ws.gradient(output), x: b.ws.activation(input),
                     count: b.n * count)
    }
}
