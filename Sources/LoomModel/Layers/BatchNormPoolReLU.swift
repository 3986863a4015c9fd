// Batch norm → 2x2/2 max pool → ReLU fused (see `fusingConvolutionTails`): reads
// `norm.input`, writes `output` (the ReLU's slot). The norm's own output slot, which the
// fused kernel never fills with z, keeps the x value at each window's maximum (a quarter
// of its size) for the backward pass; the pool's slot stays unused. Not a layer of its own
// in the config: the builder makes it from the three.
import LoomKernels

struct BatchNormPoolReLUOperation: Operation {
    var norm: BatchNormOperation
    /// Input height and width (the pooled output is (H/2, W/2)).
    var height: Int, width: Int
    var argmax: Int
    var output: Int
    /// The input comes from a conv that leaves per-plane moments in the workspace.
    var momentsFromConvolution = false

    var batchNorms: [BatchNormOperation] { [norm] }

    func forward(_ f: ForwardPass) {
        let (ws, p, b) = (f.ws, f.parameters, norm)
        if f.training {
            batchNormPoolReLUForwardTraining(y: ws.activation(output), argmax: ws.argmax + argmax * ws.capacity,
                                             selected: ws.activation(b.output), mean: ws.savedMean + b.runningMean,
                                             invStd: ws.savedInvStd + b.runningMean,
                                             unbiasedVar: ws.batchStatistics + b.runningVar, x: ws.activation(b.input),
                                             weight: p + b.weight, bias: p + b.bias, batch: f.n, channels: b.channels,
                                             height: height, width: width, eps: b.eps,
                                             moments: momentsFromConvolution ? UnsafePointer(ws.moments) : nil)
            (ws.batchStatistics + b.runningMean).update(from: ws.savedMean + b.runningMean, count: b.channels)
        } else {
            (ws.savedMean + b.runningMean).update(from: f.buffers + b.runningMean, count: b.channels)
            batchNormInverseStd(invStd: ws.savedInvStd + b.runningMean, variance: f.buffers + b.runningVar,
                                channels: b.channels, eps: b.eps)
            batchNormPoolReLUForwardInference(y: ws.activation(output), argmax: ws.argmax + argmax * ws.capacity,
                                              selected: ws.activation(b.output), x: ws.activation(b.input),
                                              weight: p + b.weight, bias: p + b.bias,
                                              mean: ws.savedMean + b.runningMean,
                                              invStd: ws.savedInvStd + b.runningMean, batch: f.n,
                                              channels: b.channels, height: height, width: width)
        }
    }

    func backward(_ bp: BackwardPass) {
        let (ws, g, b) = (bp.ws, bp.gradients, norm)
        batchNormPoolReLUBackward(dx: b.inputNeedsGradient ? ws.gradient(b.input) : nil, dweight: g + b.weight,
                                  dbias: g + b.bias, dy: ws.gradient(output), y: ws.activation(output),
                                  argmax: ws.argmax + argmax * ws.capacity, selected: ws.activation(b.output),
                                  x: ws.activation(b.input),
                                  weight: bp.parameters + b.weight, mean: ws.savedMean + b.runningMean,
                                  invStd: ws.savedInvStd + b.runningMean, batch: bp.n, channels: b.channels,
                                  height: height, width: width, batchStatistics: bp.training)
    }

    /// This tail and the conv `c` before it, a few images at a time: the tail's parameter
    /// gradients and dx coefficients need the whole batch, but then dx of a block of images
    /// is produced and consumed by the conv's backward pass while it is still in cache,
    /// instead of a whole-batch tensor making a round trip through memory.
    func backwardWithConvolution(_ c: ConvOperation, _ bp: BackwardPass) {
        let b = norm
        let (p, g, ws, n) = (bp.parameters, bp.gradients, bp.ws, bp.n)
        let (meanDz, slope) = (ws.backwardTerms + b.runningMean, ws.backwardTerms + b.runningVar)
        let (dy, y, argmax) = (ws.gradient(output), ws.activation(output), ws.argmax + self.argmax * ws.capacity)
        let (x, dx) = (ws.activation(b.input), ws.gradient(b.input))
        batchNormPoolReLUBackwardParameters(dweight: g + b.weight, dbias: g + b.bias, meanDz: meanDz, slope: slope,
                                            dy: dy, y: y, selected: ws.activation(b.output), mean: ws.savedMean + b.runningMean,
                                            invStd: ws.savedInvStd + b.runningMean, batch: n, channels: b.channels,
                                            height: height, width: width, batchStatistics: bp.training)
        // About 256 KB of conv output gradient per block, within the conv's scratch size.
        let block = min(c.shape.imagesPerGEMM(batch: n), max(1, 65536 / max(c.shape.outputCount, 1)))
        var first = 0
        while first < n {
            let count = min(block, n - first)
            batchNormPoolReLUBackwardInput(dx: dx, dy: dy, y: y, argmax: argmax, x: x, weight: p + b.weight,
                                           mean: ws.savedMean + b.runningMean, invStd: ws.savedInvStd + b.runningMean,
                                           meanDz: meanDz, slope: slope, batch: n, images: first..<(first + count),
                                           channels: b.channels, height: height, width: width)
            conv2dBackward(dx: c.inputNeedsGradient ? ws.gradient(c.input) + first * c.shape.inputCount : nil,
                           dweight: g + c.weight, dbias: c.bias.map { g + $0 }, dy: dx + first * c.shape.outputCount,
                           x: ws.activation(c.input) + first * c.shape.inputCount, weight: p + c.weight, batch: count,
                           shape: c.shape, scratch: ws.scratch, imagesPerGEMM: block, winograd: c.winograd)
            first += count
        }
    }
}
