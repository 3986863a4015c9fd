// concat: `branches`, each a list of layers reading the same input, concatenated along
// channels (PyTorch `torch.cat([b(x) for b in branches], dim=1)`), as in an Inception block.
// Every branch must give the same height and width (or all be flat).
import LoomKernels

struct ConcatOperation: Operation {
    struct Branch {
        var operations: [any Operation]
        var output: Int
        /// Floats per sample of this branch's output.
        var count: Int
    }
    var branches: [Branch]
    var input: Int, output: Int
    var count: Int, inputCount: Int
    /// A slot whose gradient half sums the branches' input gradients.
    var accumulator: Int?

    var batchNorms: [BatchNormOperation] { branches.flatMap { $0.operations.flatMap(\.batchNorms) } }

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        guard l.layer.branches.count >= 2 else { throw l.fail("concat needs at least two branches") }
        var branches: [Branch] = []
        var channels = 0
        var plane: (Int, Int)? = nil
        var flat = false
        for (k, layers) in l.layer.branches.enumerated() {
            guard !layers.isEmpty else { throw l.fail("branch \(k + 1) is empty") }
            let built = try b.build(layers, input: l.slot, shape: l.shape, isHead: l.isHead, protected: l.slot)
            guard built.output != l.slot else {
                throw l.fail("branch \(k + 1) computes nothing (it only reshapes its input)")
            }
            switch built.shape {
            case let .spatial(c, h, w):
                if flat || (plane != nil && plane! != (h, w)) {
                    throw l.fail("branch \(k + 1) gives \(built.shape), which does not stack with the branches before it")
                }
                plane = (h, w)
                channels += c
            case let .flat(f):
                if plane != nil { throw l.fail("branch \(k + 1) gives \(built.shape) but an earlier branch is spatial") }
                flat = true
                channels += f
            }
            branches.append(Branch(operations: built.operations, output: built.output, count: built.shape.count))
        }
        let shape: ActivationShape = plane.map { .spatial(channels: channels, height: $0.0, width: $0.1) }
            ?? .flat(features: channels)
        let accumulator = l.needsGradient ? b.newSlot(l.shape.count) : nil
        let output = b.newSlot(shape.count)
        return LayerOutput(operation: ConcatOperation(branches: branches, input: l.slot, output: output,
                                                      count: shape.count, inputCount: l.shape.count,
                                                      accumulator: accumulator),
                           slot: output, shape: shape)
    }

    func forward(_ f: ForwardPass) {
        let y = f.ws.activation(output)
        var offset = 0
        for branch in branches {
            f.run(branch.operations)
            let out = f.ws.activation(branch.output)
            for n in 0..<f.n {
                (y + n * count + offset).update(from: out + n * branch.count, count: branch.count)
            }
            offset += branch.count
        }
    }

    func backward(_ b: BackwardPass) {
        // Each branch sees its slice of dy; dx is the sum over branches, taken in branch order.
        let ws = b.ws
        let dy = ws.gradient(output)
        let inputFloats = b.n * inputCount
        var offset = 0
        for (k, branch) in branches.enumerated() {
            let dout = ws.gradient(branch.output)
            for n in 0..<b.n {
                (dout + n * branch.count).update(from: dy + n * count + offset, count: branch.count)
            }
            offset += branch.count
            b.run(branch.operations)
            guard let accumulator else { continue }
            let sum = ws.gradient(accumulator), dx = ws.gradient(input)
            if k == 0 {
                sum.update(from: dx, count: inputFloats)
            } else {
                residualAddBackward(dx: sum, dy: sum, dblockInput: dx, count: inputFloats)
            }
        }
        if let accumulator { ws.gradient(input).update(from: ws.gradient(accumulator), count: inputFloats) }
    }
}
