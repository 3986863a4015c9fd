// residual: y = x + block(x), where `block` is any list of layers that keeps the shape.
import LoomKernels

struct ResidualOperation: Operation {
    var body: [any Operation]
    var count: Int
    var input: Int, bodyOutput: Int, output: Int
    var inputNeedsGradient: Bool

    var batchNorms: [BatchNormOperation] { body.flatMap(\.batchNorms) }

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        guard !l.layer.block.isEmpty else { throw l.fail("a residual block needs a non-empty block") }
        // The block may not run in place on x: the skip connection needs it again.
        let body = try b.build(l.layer.block, input: l.slot, shape: l.shape, isHead: l.isHead, protected: l.slot)
        guard body.shape == l.shape else {
            throw l.fail("the block maps \(l.shape) to \(body.shape); a residual block must keep the shape")
        }
        let output = b.newSlot(l.shape.count)
        return LayerOutput(operation: ResidualOperation(body: body.operations, count: l.shape.count, input: l.slot,
                                                        bodyOutput: body.output, output: output,
                                                        inputNeedsGradient: l.needsGradient),
                           slot: output, shape: l.shape)
    }

    func forward(_ f: ForwardPass) {
        f.run(body)
        residualAddForward(y: f.ws.activation(output), x: f.ws.activation(input),
                           body: f.ws.activation(bodyOutput), count: f.n * count)
    }

    func backward(_ b: BackwardPass) {
        // y = x + body(x): the body sees dy, then the identity path adds dy to dx.
        let ws = b.ws
        let count = b.n * self.count
        if bodyOutput != output {
            ws.gradient(bodyOutput).update(from: ws.gradient(output), count: count)
        }
        if bodyOutput == input {
            // body is the identity (e.g. a lone flatten): dx = 2·dy.
            residualAddBackward(dx: ws.gradient(input), dy: ws.gradient(output),
                                dblockInput: ws.gradient(output), count: count)
            return
        }
        b.run(body)
        guard inputNeedsGradient else { return }
        residualAddBackward(dx: ws.gradient(input), dy: ws.gradient(output),
                            dblockInput: ws.gradient(input), count: count)
    }
}
