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

    func run(_ operations: [Operation]) {
        for op in operations { run(op) }
    }

    func run(_ op: Operation) {
        let p = parameters
        switch op {
        case let .conv(c):
            conv2dForward(y: ws.activation(c.output), x: ws.activation(c.input), weight: p + c.weight,
                          bias: c.bias.map { p + $0 }, batch: n, shape: c.shape, scratch: ws.scratch,
                          imagesPerGEMM: c.shape.imagesPerGEMM(batch: n),
                          moments: training && c.feedsNormalisation ? ws.moments : nil)
        case let .linear(l):
            linearForward(y: ws.activation(l.output), x: ws.activation(l.input), weight: p + l.weight,
                          bias: l.bias.map { p + $0 }, batch: n, inFeatures: l.inFeatures, outFeatures: l.outFeatures)
        case let .batchNorm(b):
            if training {
                batchNormForwardTraining(y: ws.activation(b.output), mean: ws.savedMean + b.runningMean,
                                         invStd: ws.savedInvStd + b.runningMean,
                                         unbiasedVar: ws.batchStatistics + b.runningVar,
                                         x: ws.activation(b.input), weight: p + b.weight, bias: p + b.bias,
                                         batch: n, channels: b.channels, spatial: b.spatial, eps: b.eps)
                (ws.batchStatistics + b.runningMean).update(from: ws.savedMean + b.runningMean, count: b.channels)
            } else {
                (ws.savedMean + b.runningMean).update(from: buffers + b.runningMean, count: b.channels)
                batchNormInverseStd(invStd: ws.savedInvStd + b.runningMean, variance: buffers + b.runningVar,
                                    channels: b.channels, eps: b.eps)
                batchNormForwardInference(y: ws.activation(b.output), x: ws.activation(b.input),
                                          weight: p + b.weight, bias: p + b.bias,
                                          mean: ws.savedMean + b.runningMean, invStd: ws.savedInvStd + b.runningMean,
                                          batch: n, channels: b.channels, spatial: b.spatial)
            }
        case let .batchNormPoolReLU(f):
            let b = f.norm
            if training {
                batchNormPoolReLUForwardTraining(y: ws.activation(f.output), argmax: ws.argmax + f.argmax * ws.capacity,
                                                 selected: ws.activation(b.output), mean: ws.savedMean + b.runningMean, invStd: ws.savedInvStd + b.runningMean,
                                                 unbiasedVar: ws.batchStatistics + b.runningVar, x: ws.activation(b.input),
                                                 weight: p + b.weight, bias: p + b.bias, batch: n, channels: b.channels,
                                                 height: f.height, width: f.width, eps: b.eps,
                                                 moments: f.momentsFromConvolution ? UnsafePointer(ws.moments) : nil)
                (ws.batchStatistics + b.runningMean).update(from: ws.savedMean + b.runningMean, count: b.channels)
            } else {
                (ws.savedMean + b.runningMean).update(from: buffers + b.runningMean, count: b.channels)
                batchNormInverseStd(invStd: ws.savedInvStd + b.runningMean, variance: buffers + b.runningVar,
                                    channels: b.channels, eps: b.eps)
                batchNormPoolReLUForwardInference(y: ws.activation(f.output), argmax: ws.argmax + f.argmax * ws.capacity,
                                                  selected: ws.activation(b.output), x: ws.activation(b.input), weight: p + b.weight, bias: p + b.bias,
                                                  mean: ws.savedMean + b.runningMean,
                                                  invStd: ws.savedInvStd + b.runningMean, batch: n,
                                                  channels: b.channels, height: f.height, width: f.width)
            }
        case let .relu(r):
            reluForward(y: ws.activation(r.output), x: ws.activation(r.input), count: n * r.count)
        case let .maxPool(m):
            maxPool2dForward(y: ws.activation(m.output), argmax: ws.argmax + m.argmax * ws.capacity,
                             x: ws.activation(m.input), batch: n, shape: m.shape)
        case let .avgPool(a):
            avgPool2dForward(y: ws.activation(a.output), x: ws.activation(a.input), batch: n, shape: a.shape)
        case let .globalAvgPool(g):
            globalAvgPoolForward(y: ws.activation(g.output), x: ws.activation(g.input), batch: n,
                                 channels: g.channels, spatial: g.spatial)
        case let .dropout(d):
            if training, d.p > 0, let ids = sampleIDs {
                dropoutForward(y: ws.activation(d.output), mask: ws.masks + d.mask * ws.capacity,
                               x: ws.activation(d.input), batch: n, features: d.features, p: d.p,
                               seed: seed, step: step, sampleIDs: ids, layer: d.layer)
            } else {
                // Identity: a mask of ones keeps the backward pass uniform.
                ws.activation(d.output).update(from: ws.activation(d.input), count: n * d.features)
                (ws.masks + d.mask * ws.capacity).update(repeating: 1, count: n * d.features)
            }
        case let .residual(r):
            run(r.body)
            residualAddForward(y: ws.activation(r.output), x: ws.activation(r.input),
                               body: ws.activation(r.bodyOutput), count: n * r.count)
        }
    }
}
