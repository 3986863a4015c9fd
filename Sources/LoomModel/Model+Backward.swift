// The backward pass: each head's dlogits (N, K) → parameter gradients (accumulated).
import LoomKernels

extension Model {
    /// Back-propagates the dlogits the caller wrote into `workspace.dlogits(head:)` through
    /// the last forward pass (same `parameters`), ADDING each parameter's gradient into
    /// `gradients` (parameters layout), so that micro-shards can be summed into one buffer.
    /// Zero `gradients` first for a fresh step.
    public func backward(parameters: UnsafePointer<Float>, workspace ws: Workspace,
                         gradients: UnsafeMutablePointer<Float>) throws(ModelError) {
        guard ws.model === self else { throw .foreignWorkspace }
        guard ws.count > 0 else { throw .backwardBeforeForward }
        let pass = BackwardPass(parameters: parameters, gradients: gradients, n: ws.count,
                                training: ws.training, ws: ws)
        for head in headOperations { pass.run(head) }
        pass.run(trunk)
    }
}

/// The arguments of one backward pass. Operations run in reverse order; each reads the
/// gradient of its output slot and writes (overwrites) that of its input slot.
struct BackwardPass {
    let parameters: UnsafePointer<Float>
    let gradients: UnsafeMutablePointer<Float>
    let n: Int
    let training: Bool
    let ws: Workspace

    func run(_ operations: [any Operation]) {
        var i = operations.count - 1
        while i >= 0 {
            if i > 0, let tail = operations[i] as? BatchNormPoolReLUOperation, let conv = operations[i - 1] as? ConvOperation,
               conv.output == tail.norm.input, tail.norm.inputNeedsGradient {
                tail.backwardWithConvolution(conv, self)
                i -= 2
            } else {
                operations[i].backward(self)
                i -= 1
            }
        }
    }
}
