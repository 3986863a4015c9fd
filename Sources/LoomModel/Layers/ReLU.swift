// relu: max(x, 0), in place when the input slot may be overwritten (no backward pass needs
// the tensor it overwrites: ReLU's backward reads its own output).
import LoomKernels

struct ReLUOperation: Operation {
    var count: Int
    var input: Int, output: Int
    var inputNeedsGradient: Bool

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        let output = l.mayRunInPlace ? l.slot : b.newSlot(l.shape.count)
        return LayerOutput(operation: ReLUOperation(count: l.shape.count, input: l.slot, output: output,
                                                    inputNeedsGradient: l.needsGradient),
                           slot: output, shape: l.shape)
    }

    func forward(_ f: ForwardPass) {
        reluForward(y: f.ws.activation(output), x: f.ws.activation(input), count: f.n * count)
    }

    func backward(_ b: BackwardPass) {
        guard inputNeedsGradient else { return }
        reluBackward(dx: b.ws.gradient(input), dy: b.ws.gradient(output), y: b.ws.activation(output),
                     count: b.n * count)
    }
}
