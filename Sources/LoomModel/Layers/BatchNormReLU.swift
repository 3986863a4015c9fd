// Batch norm → ReLU fused (see `fusingConvolutionTails`): the ReLU runs in place on the
// norm's output slot, so the normalised tensor z is overwritten in the unfused network too;
// here it is never stored. Backward applies the ReLU's mask inside batch norm's two passes
// instead of storing the masked gradient between them. Same bits as the two operations
// (LoomKernels' BatchNormReLU.swift). Not a layer of its own in the config.
import LoomKernels

struct BatchNormReLUOperation: Operation {
    var norm: BatchNormOperation

    var batchNorms: [BatchNormOperation] { [norm] }

    func forward(_ f: ForwardPass) {
        let (ws, p, b) = (f.ws, f.parameters, norm)
        if f.training {
            batchNormReLUForwardTraining(y: ws.activation(b.output), mean: ws.savedMean + b.runningMean,
                                         invStd: ws.savedInvStd + b.runningMean,
                                         unbiasedVar: ws.batchStatistics + b.runningVar, x: ws.activation(b.input),
                                         weight: p + b.weight, bias: p + b.bias, batch: f.n, channels: b.channels,
                                         spatial: b.spatial, eps: b.eps)
            (ws.batchStatistics + b.runningMean).update(from: ws.savedMean + b.runningMean, count: b.channels)
        } else {
            (ws.savedMean + b.runningMean).update(from: f.buffers + b.runningMean, count: b.channels)
            batchNormInverseStd(invStd: ws.savedInvStd + b.runningMean, variance: f.buffers + b.runningVar,
                                channels: b.channels, eps: b.eps)
            batchNormReLUForwardInference(y: ws.activation(b.output), x: ws.activation(b.input), weight: p + b.weight,
                                          bias: p + b.bias, mean: ws.savedMean + b.runningMean,
                                          invStd: ws.savedInvStd + b.runningMean, batch: f.n, channels: b.channels,
                                          spatial: b.spatial)
        }
    }

    func backward(_ bp: BackwardPass) {
        let (ws, b) = (bp.ws, norm)
        guard bp.training else {
            // Running statistics (a frozen or eval-mode pass): the two operations in turn.
            reluBackward(dx: ws.gradient(b.output), dy: ws.gradient(b.output), y: ws.activation(b.output),
                         count: bp.n * b.channels * b.spatial)
            b.backward(bp)
            return
        }
        batchNormReLUBackward(dx: b.inputNeedsGradient ? ws.gradient(b.input) : nil, dweight: bp.gradients + b.weight,
                              dbias: bp.gradients + b.bias, dy: ws.gradient(b.output), y: ws.activation(b.output),
                              x: ws.activation(b.input), weight: bp.parameters + b.weight,
                              mean: ws.savedMean + b.runningMean, invStd: ws.savedInvStd + b.runningMean,
                              batch: bp.n, channels: b.channels, spatial: b.spatial)
    }
}
