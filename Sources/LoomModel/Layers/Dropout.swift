// dropout: PyTorch `nn.Dropout`, masks keyed by (seed, step, sample, layer) (dropoutForward).
import LoomKernels

struct DropoutOperation: Operation {
    var features: Int, p: Float
    /// The layer index that keys the masks.
    var layer: Int
    var input: Int, output: Int
    /// Offset of the masks (per sample) in the workspace's mask arena.
    var mask: Int
    var inputNeedsGradient: Bool

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        guard l.layer.p >= 0, l.layer.p < 1 else { throw l.fail("dropout p must be in [0, 1), got \(l.layer.p)") }
        let output = b.newSlot(l.shape.count)
        let op = DropoutOperation(features: l.shape.count, p: Float(l.layer.p), layer: l.index, input: l.slot,
                                  output: output, mask: b.maskCount, inputNeedsGradient: l.needsGradient)
        b.maskCount += l.shape.count
        b.hasDropout = true
        return LayerOutput(operation: op, slot: output, shape: l.shape)
    }

    func forward(_ f: ForwardPass) {
        let ws = f.ws
        if f.training, p > 0, let ids = f.sampleIDs {
            dropoutForward(y: ws.activation(output), mask: ws.masks + mask * ws.capacity,
                           x: ws.activation(input), batch: f.n, features: features, p: p,
                           seed: f.seed, step: f.step, sampleIDs: ids, layer: layer)
        } else {
            // Identity: a mask of ones keeps the backward pass uniform.
            ws.activation(output).update(from: ws.activation(input), count: f.n * features)
            (ws.masks + mask * ws.capacity).update(repeating: 1, count: f.n * features)
        }
    }

    func backward(_ b: BackwardPass) {
        guard inputNeedsGradient else { return }
        dropoutBackward(dx: b.ws.gradient(input), dy: b.ws.gradient(output),
                        mask: b.ws.masks + mask * b.ws.capacity, count: b.n * features)
    }
}
