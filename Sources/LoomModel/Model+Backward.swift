// The backward pass: each head's dlogits (N, K) → parameter gradients (accumulated).
import LoomKernels

extension Model {
    /// Back-propagates the dlogits the caller wrote into `workspace.dlogits(head:)` through
    /// the last forward pass (same `parameters`), ADDING each parameter's gradient into
    /// `gradients` (parameters layout), so that micro-shards can be summed into one buffer.
    /// Zero `gradients` first for a fresh step.
    ///
    /// `completed`, when given, is called as soon as a layer's parameter gradients are final
    /// for this pass, with their range of the parameters layout (each parameter once, last
    /// layers first): overlap pushes them while the pass goes on.
    public func backward(parameters: UnsafePointer<Float>, workspace ws: Workspace,
                         gradients: UnsafeMutablePointer<Float>,
                         completed: ((Range<Int>) -> Void)? = nil) throws(ModelError) {
        guard ws.model === self else { throw .foreignWorkspace }
        guard ws.count > 0 else { throw .backwardBeforeForward }
        let pass = BackwardPass(parameters: parameters, gradients: gradients, n: ws.count,
                                training: ws.training, ws: ws)
        for (h, head) in headOperations.enumerated() { pass.run(head, spans: headSpans[h], completed: completed) }
        pass.run(trunk, spans: trunkSpans, completed: completed)
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
        run(operations, spans: [], completed: nil)
    }

    /// `spans[i]`: operation i's parameters; each operation writes only its own parameters'
    /// gradients, so they are final once it has run (`completed` is told).
    func run(_ operations: [any Operation], spans: [LayerSpan], completed: ((Range<Int>) -> Void)?) {
        func done(_ i: Int) {
            if let completed, i < spans.count, !spans[i].parameters.isEmpty { completed(spans[i].parameters) }
        }
        var i = operations.count - 1
        while i >= 0 {
            if i > 0, let tail = operations[i] as? BatchNormPoolReLUOperation, let conv = operations[i - 1] as? ConvOperation,
               conv.output == tail.norm.input, tail.norm.inputNeedsGradient {
                tail.backwardWithConvolution(conv, self)
                done(i)
                done(i - 1)
                i -= 2
            } else {
                operations[i].backward(self)
                done(i)
                i -= 1
            }
        }
    }
}
