// residual: y = shortcut(x) + block(x). `block` is any list of layers; `shortcut` is the
// identity when absent (then the block must keep the shape), or a list of layers giving the
// block's output shape — a ResNet downsampling projection (1×1 stride-2 conv + batch norm).
import LoomKernels

struct ResidualOperation: Operation {
    var body: [any Operation]
    var shortcut: [any Operation]
    var count: Int
    var input: Int, bodyOutput: Int, output: Int
    /// The shortcut's output slot (the input itself when the shortcut is the identity).
    var shortcutOutput: Int
    /// With a shortcut: a slot whose gradient half holds the body's dx while the shortcut's
    /// backward pass runs.
    var accumulator: Int?
    var inputCount: Int
    var inputNeedsGradient: Bool
    /// A ReLU in place on the output follows, fused into this operation
    /// (`fusingConvolutionTails`): y = relu(shortcut(x) + block(x)).
    var rectified = false

    var batchNorms: [BatchNormOperation] { body.flatMap(\.batchNorms) + shortcut.flatMap(\.batchNorms) }

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        guard !l.layer.block.isEmpty else { throw l.fail("a residual block needs a non-empty block") }
        // The block may not run in place on x: the skip connection needs it again.
        let body = try b.build(l.layer.block, input: l.slot, shape: l.shape, isHead: l.isHead, protected: l.slot)
        if l.layer.shortcut.isEmpty {
            guard body.shape == l.shape else {
                throw l.fail("the block maps \(l.shape) to \(body.shape); a residual block without a shortcut"
                             + " must keep the shape (or give a 'shortcut', e.g. a 1x1 stride-2 conv + batch norm)")
            }
            let output = b.newSlot(l.shape.count)
            return LayerOutput(operation: ResidualOperation(body: body.operations, shortcut: [], count: l.shape.count,
                                                            input: l.slot, bodyOutput: body.output, output: output,
                                                            shortcutOutput: l.slot, accumulator: nil,
                                                            inputCount: l.shape.count,
                                                            inputNeedsGradient: l.needsGradient),
                               slot: output, shape: l.shape)
        }
        let shortcut = try b.build(l.layer.shortcut, input: l.slot, shape: l.shape, isHead: l.isHead, protected: l.slot)
        guard shortcut.shape == body.shape else {
            throw l.fail("the block maps \(l.shape) to \(body.shape) but the shortcut to \(shortcut.shape);"
                         + " they must agree")
        }
        guard body.output != l.slot, shortcut.output != l.slot else {
            throw l.fail("with a shortcut, the block and the shortcut must each compute something (not only reshape)")
        }
        let accumulator = l.needsGradient ? b.newSlot(l.shape.count) : nil
        let output = b.newSlot(body.shape.count)
        return LayerOutput(operation: ResidualOperation(body: body.operations, shortcut: shortcut.operations,
                                                        count: body.shape.count, input: l.slot,
                                                        bodyOutput: body.output, output: output,
                                                        shortcutOutput: shortcut.output, accumulator: accumulator,
                                                        inputCount: l.shape.count, inputNeedsGradient: l.needsGradient),
                           slot: output, shape: body.shape)
    }

    func forward(_ f: ForwardPass) {
        f.run(body)
        f.run(shortcut)
        if rectified {
            residualAddReLUForward(y: f.ws.activation(output), x: f.ws.activation(shortcutOutput),
                                   body: f.ws.activation(bodyOutput), count: f.n * count)
        } else {
            residualAddForward(y: f.ws.activation(output), x: f.ws.activation(shortcutOutput),
                               body: f.ws.activation(bodyOutput), count: f.n * count)
        }
    }

    /// The gradient of the sum from that of the output: the fused ReLU's backward pass in
    /// place (rectified), written to `copy` as well when given; else only the copy.
    private func sumGradient(_ b: BackwardPass, copy: Int?) {
        let ws = b.ws
        let count = b.n * self.count
        if rectified {
            if let copy {
                reluBackwardTwice(dx: ws.gradient(output), copy: ws.gradient(copy), dy: ws.gradient(output),
                                  y: ws.activation(output), count: count)
            } else {
                reluBackward(dx: ws.gradient(output), dy: ws.gradient(output), y: ws.activation(output), count: count)
            }
        } else if let copy {
            ws.gradient(copy).update(from: ws.gradient(output), count: count)
        }
    }

    func backward(_ b: BackwardPass) {
        if !shortcut.isEmpty { return backwardWithShortcut(b) }
        // y = x + body(x): the body sees dy, then the identity path adds dy to dx.
        let ws = b.ws
        let count = b.n * self.count
        sumGradient(b, copy: bodyOutput != output ? bodyOutput : nil)
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

    /// y = body(x) + shortcut(x): both see dy; dx is the sum of what their backward passes give.
    private func backwardWithShortcut(_ b: BackwardPass) {
        let ws = b.ws
        let count = b.n * self.count
        if rectified {
            reluBackwardTwice(dx: ws.gradient(bodyOutput), copy: ws.gradient(shortcutOutput), dy: ws.gradient(output),
                              y: ws.activation(output), count: count)
        } else {
            ws.gradient(bodyOutput).update(from: ws.gradient(output), count: count)
            ws.gradient(shortcutOutput).update(from: ws.gradient(output), count: count)
        }
        b.run(body)
        let inputFloats = b.n * inputCount
        if let accumulator { ws.gradient(accumulator).update(from: ws.gradient(input), count: inputFloats) }
        b.run(shortcut)
        if let accumulator {
            residualAddBackward(dx: ws.gradient(input), dy: ws.gradient(accumulator),
                                dblockInput: ws.gradient(input), count: inputFloats)
        }
    }
}
