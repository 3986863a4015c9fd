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

    func run(_ operations: [Operation]) {
        var i = operations.count - 1
        while i >= 0 {
            if i > 0, case let .batchNormPoolReLU(tail) = operations[i], case let .conv(conv) = operations[i - 1],
               conv.output == tail.norm.input, tail.norm.inputNeedsGradient {
                runBlockwise(conv, tail)
                i -= 2
            } else {
                run(operations[i])
                i -= 1
            }
        }
    }

    /// A conv and its fused BN/pool/ReLU tail, a few images at a time: the tail's parameter
    /// gradients and dx coefficients need the whole batch, but then dx of a block of images
    /// is produced and consumed by the conv's backward pass while it is still in cache,
    /// instead of a whole-batch tensor making a round trip through memory.
    func runBlockwise(_ c: ConvOperation, _ tail: BatchNormPoolReLUOperation) {
        let b = tail.norm
        let (p, g) = (parameters, gradients)
        let (meanDz, slope) = (ws.backwardTerms + b.runningMean, ws.backwardTerms + b.runningVar)
        let (dy, y, argmax) = (ws.gradient(tail.output), ws.activation(tail.output), ws.argmax + tail.argmax * ws.capacity)
        let (x, dx) = (ws.activation(b.input), ws.gradient(b.input))
        batchNormPoolReLUBackwardParameters(dweight: g + b.weight, dbias: g + b.bias, meanDz: meanDz, slope: slope,
                                            dy: dy, y: y, selected: ws.activation(b.output), mean: ws.savedMean + b.runningMean,
                                            invStd: ws.savedInvStd + b.runningMean, batch: n, channels: b.channels,
                                            height: tail.height, width: tail.width, batchStatistics: training)
        // About 256 KB of conv output gradient per block, within the conv's scratch size.
        let block = min(c.shape.imagesPerGEMM(batch: n), max(1, 65536 / max(c.shape.outputCount, 1)))
        var first = 0
        while first < n {
            let count = min(block, n - first)
            batchNormPoolReLUBackwardInput(dx: dx, dy: dy, y: y, argmax: argmax, x: x, weight: p + b.weight,
                                           mean: ws.savedMean + b.runningMean, invStd: ws.savedInvStd + b.runningMean,
                                           meanDz: meanDz, slope: slope, batch: n, images: first..<(first + count),
                                           channels: b.channels, height: tail.height, width: tail.width)
            conv2dBackward(dx: c.inputNeedsGradient ? ws.gradient(c.input) + first * c.shape.inputCount : nil,
                           dweight: g + c.weight, dbias: c.bias.map { g + $0 }, dy: dx + first * c.shape.outputCount,
                           x: ws.activation(c.input) + first * c.shape.inputCount, weight: p + c.weight, batch: count,
                           shape: c.shape, scratch: ws.scratch, imagesPerGEMM: block)
            first += count
        }
    }

    func run(_ op: Operation) {
        let p = parameters
        let g = gradients
        switch op {
        case let .conv(c):
            conv2dBackward(dx: c.inputNeedsGradient ? ws.gradient(c.input) : nil, dweight: g + c.weight,
                           dbias: c.bias.map { g + $0 }, dy: ws.gradient(c.output), x: ws.activation(c.input),
                           weight: p + c.weight, batch: n, shape: c.shape, scratch: ws.scratch,
                           imagesPerGEMM: c.shape.imagesPerGEMM(batch: n))
        case let .linear(l):
            linearBackward(dx: l.inputNeedsGradient ? ws.gradient(l.input) : nil, dweight: g + l.weight,
                           dbias: l.bias.map { g + $0 }, dy: ws.gradient(l.output), x: ws.activation(l.input),
                           weight: p + l.weight, batch: n, inFeatures: l.inFeatures, outFeatures: l.outFeatures,
                           accumulateInput: l.accumulatesInputGradient)
        case let .batchNorm(b):
            batchNormBackward(dx: b.inputNeedsGradient ? ws.gradient(b.input) : nil, dweight: g + b.weight,
                              dbias: g + b.bias, dy: ws.gradient(b.output), x: ws.activation(b.input),
                              weight: p + b.weight, mean: ws.savedMean + b.runningMean,
                              invStd: ws.savedInvStd + b.runningMean, batch: n, channels: b.channels,
                              spatial: b.spatial, batchStatistics: training)
        case let .batchNormPoolReLU(f):
            let b = f.norm
            batchNormPoolReLUBackward(dx: b.inputNeedsGradient ? ws.gradient(b.input) : nil, dweight: g + b.weight,
                                      dbias: g + b.bias, dy: ws.gradient(f.output), y: ws.activation(f.output),
                                      argmax: ws.argmax + f.argmax * ws.capacity, selected: ws.activation(b.output),
                                      x: ws.activation(b.input),
                                      weight: p + b.weight, mean: ws.savedMean + b.runningMean,
                                      invStd: ws.savedInvStd + b.runningMean, batch: n, channels: b.channels,
                                      height: f.height, width: f.width, batchStatistics: training)
        case let .relu(r):
            guard r.inputNeedsGradient else { return }
            reluBackward(dx: ws.gradient(r.input), dy: ws.gradient(r.output), y: ws.activation(r.output),
                         count: n * r.count)
        case let .maxPool(m):
            guard m.inputNeedsGradient else { return }
            maxPool2dBackward(dx: ws.gradient(m.input), dy: ws.gradient(m.output),
                              argmax: ws.argmax + m.argmax * ws.capacity, batch: n, shape: m.shape)
        case let .avgPool(a):
            guard a.inputNeedsGradient else { return }
            avgPool2dBackward(dx: ws.gradient(a.input), dy: ws.gradient(a.output), batch: n, shape: a.shape)
        case let .globalAvgPool(gp):
            guard gp.inputNeedsGradient else { return }
            globalAvgPoolBackward(dx: ws.gradient(gp.input), dy: ws.gradient(gp.output), batch: n,
                                  channels: gp.channels, spatial: gp.spatial)
        case let .dropout(d):
            guard d.inputNeedsGradient else { return }
            dropoutBackward(dx: ws.gradient(d.input), dy: ws.gradient(d.output),
                            mask: ws.masks + d.mask * ws.capacity, count: n * d.features)
        case let .residual(r):
            // y = x + body(x): the body sees dy, then the identity path adds dy to dx.
            let count = n * r.count
            if r.bodyOutput != r.output {
                ws.gradient(r.bodyOutput).update(from: ws.gradient(r.output), count: count)
            }
            if r.bodyOutput == r.input {
                // body is the identity (e.g. a lone flatten): dx = 2·dy.
                residualAddBackward(dx: ws.gradient(r.input), dy: ws.gradient(r.output),
                                    dblockInput: ws.gradient(r.output), count: count)
                return
            }
            run(r.body)
            guard r.inputNeedsGradient else { return }
            residualAddBackward(dx: ws.gradient(r.input), dy: ws.gradient(r.output),
                                dblockInput: ws.gradient(r.input), count: count)
        }
    }
}
