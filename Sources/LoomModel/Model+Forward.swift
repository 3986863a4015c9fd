// The forward pass: input (N, C, H, W) → each head's logits (N, K) in the workspace.
import LoomKernels

extension Model {
    /// Runs the network on `count` samples of `input` (count, C, H, W) and leaves each
    /// head's logits (count, K) in `workspace.logits(head:)`. In training mode batch norm
    /// uses batch statistics (saved in `workspace.batchStatistics`; the running statistics
    /// in `buffers` are not changed: see `applyBatchStatistics`) and dropout draws masks
    /// keyed by (`seed`, `step`, `sampleIDs[i]`, layer). The input is copied, so it need
    /// not outlive the call.
    public func forward(parameters: UnsafePointer<Float>, buffers: UnsafePointer<Float>,
                        input: UnsafePointer<Float>, count n: Int, sampleIDs: [Int] = [],
                        step: Int = 0, seed: UInt64 = 0, training: Bool,
                        workspace ws: Workspace) throws(ModelError) {
        guard ws.model === self else { throw .foreignWorkspace }
        guard n <= ws.capacity else { throw .batchTooLarge(count: n, capacity: ws.capacity) }
        if training && hasDropout && sampleIDs.count != n {
            throw .sampleIDCount(expected: n, got: sampleIDs.count)
        }
        ws.count = n
        ws.training = training
        ws.activation(0).update(from: input, count: n * inputCount)
        sampleIDs.withUnsafeBufferPointer { ids in
            let pass = ForwardPass(parameters: parameters, buffers: buffers, n: n, training: training,
                                   step: step, seed: seed, sampleIDs: ids.baseAddress, ws: ws)
            pass.run(trunk)
            for head in headOperations { pass.run(head) }
        }
    }
}

/// The arguments of one forward pass, so that each operation reads as one kernel call.
struct ForwardPass {
    let parameters: UnsafePointer<Float>
    let buffers: UnsafePointer<Float>
    let n: Int
    let training: Bool
    let step: Int
    let seed: UInt64
    let sampleIDs: UnsafePointer<Int>?
    let ws: Workspace

    func run(_ operations: [any Operation]) {
        for op in operations { op.forward(self) }
    }
}
