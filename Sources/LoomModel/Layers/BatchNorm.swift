// batchnorm2d / batchnorm1d: PyTorch `nn.BatchNorm2d` / `nn.BatchNorm1d` (weight, bias;
// running_mean, running_var buffers). In training the batch statistics are the micro-shard's
// own; the running statistics are updated after the step (`Model.applyBatchStatistics`).
import LoomKernels

struct BatchNormOperation: Operation {
    var channels: Int, spatial: Int
    var input: Int, output: Int
    var weight: Int, bias: Int
    var runningMean: Int, runningVar: Int
    var momentum: Float, eps: Float
    var inputNeedsGradient: Bool

    var batchNorms: [BatchNormOperation] { [self] }

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        try l.requireName()
        let layer = l.layer
        let channels: Int, spatial: Int
        switch (layer.kind, l.shape) {
        case let (.batchnorm2d, .spatial(c, height, width)): (channels, spatial) = (c, height * width)
        case let (.batchnorm1d, .flat(f)): (channels, spatial) = (f, 1)
        default:
            throw l.fail("\(layer.kind.rawValue) cannot normalise a \(l.shape) input")
        }
        if layer.out != 0 && layer.out != channels {
            throw l.fail("\(layer.kind.rawValue) declares \(layer.out) channels but its input has \(channels)")
        }
        guard layer.momentum >= 0, layer.momentum <= 1, layer.eps > 0 else {
            throw l.fail("batch norm needs 0 <= momentum <= 1 and eps > 0")
        }
        let isHead = l.isHead
        let w = b.parameters.append(name: layer.name + ".weight", shape: [channels], isBiasOrNorm: true, isHead: isHead)!
        let bias = b.parameters.append(name: layer.name + ".bias", shape: [channels], isBiasOrNorm: true, isHead: isHead)!
        let rm = b.buffers.append(name: layer.name + ".running_mean", shape: [channels], isBiasOrNorm: true, isHead: isHead)!
        let rv = b.buffers.append(name: layer.name + ".running_var", shape: [channels], isBiasOrNorm: true, isHead: isHead)!
        for (view, value, inBuffers) in [(w, Float(layer.gammaInit), false), (bias, 0, false), (rm, 0, true), (rv, 1, true)] {
            b.initialisers.append(Initialiser(layer: l.index, offset: view.offset, count: view.count,
                                              inBuffers: inBuffers, rule: .constant(value)))
        }
        let output = b.newSlot(l.shape.count)
        return LayerOutput(operation: BatchNormOperation(
            channels: channels, spatial: spatial, input: l.slot, output: output, weight: w.offset,
            bias: bias.offset, runningMean: rm.offset, runningVar: rv.offset,
            momentum: Float(layer.momentum), eps: Float(layer.eps), inputNeedsGradient: l.needsGradient),
            slot: output, shape: l.shape)
    }

    func forward(_ f: ForwardPass) {
        let (ws, p) = (f.ws, f.parameters)
        if f.training {
            batchNormForwardTraining(y: ws.activation(output), mean: ws.savedMean + runningMean,
                                     invStd: ws.savedInvStd + runningMean,
                                     unbiasedVar: ws.batchStatistics + runningVar,
                                     x: ws.activation(input), weight: p + weight, bias: p + bias,
                                     batch: f.n, channels: channels, spatial: spatial, eps: eps)
            (ws.batchStatistics + runningMean).update(from: ws.savedMean + runningMean, count: channels)
        } else {
            (ws.savedMean + runningMean).update(from: f.buffers + runningMean, count: channels)
            batchNormInverseStd(invStd: ws.savedInvStd + runningMean, variance: f.buffers + runningVar,
                                channels: channels, eps: eps)
            batchNormForwardInference(y: ws.activation(output), x: ws.activation(input),
                                      weight: p + weight, bias: p + bias,
                                      mean: ws.savedMean + runningMean, invStd: ws.savedInvStd + runningMean,
                                      batch: f.n, channels: channels, spatial: spatial)
        }
    }

    func backward(_ b: BackwardPass) {
        let (ws, g) = (b.ws, b.gradients)
        batchNormBackward(dx: inputNeedsGradient ? ws.gradient(input) : nil, dweight: g + weight,
                          dbias: g + bias, dy: ws.gradient(output), x: ws.activation(input),
                          weight: b.parameters + weight, mean: ws.savedMean + runningMean,
                          invStd: ws.savedInvStd + runningMean, batch: b.n, channels: channels,
                          spatial: spatial, batchStatistics: b.training)
    }
}
