// depthwise2d: PyTorch `nn.Conv2d(C, C, k, stride, padding, groups=C)` (weight [C, 1, k, k],
// optional bias), by its own shifted-plane kernel (it is not a GEMM). A pointwise
// convolution is a conv2d with kernel 1.
import LoomKernels

struct DepthwiseOperation: Operation {
    var shape: DepthwiseShape
    var input: Int, output: Int
    var weight: Int, bias: Int?
    var inputNeedsGradient: Bool

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        try l.requireName()
        let layer = l.layer
        guard case let .spatial(c, h, w) = l.shape else {
            throw l.fail("depthwise2d needs a [C, H, W] input, got \(l.shape)")
        }
        guard layer.kernel > 0, layer.stride > 0, layer.padding >= 0 else {
            throw l.fail("depthwise2d needs kernel > 0, stride > 0, padding >= 0")
        }
        guard layer.kernel <= h + 2 * layer.padding, layer.kernel <= w + 2 * layer.padding else {
            throw l.fail("kernel \(layer.kernel) is larger than the padded input \(l.shape) (padding \(layer.padding))")
        }
        let s = DepthwiseShape(channels: c, height: h, width: w, kernel: layer.kernel, stride: layer.stride,
                               padding: layer.padding)
        let (weight, bias) = b.addAffine(prefix: layer.name, weightShape: [c, 1, layer.kernel, layer.kernel],
                                         bias: layer.bias, fanIn: layer.kernel * layer.kernel, layer: l.index,
                                         isHead: l.isHead)
        let shape = ActivationShape.spatial(channels: c, height: s.outHeight, width: s.outWidth)
        let output = b.newSlot(shape.count)
        b.flops += s.forwardFLOPs
        return LayerOutput(operation: DepthwiseOperation(shape: s, input: l.slot, output: output, weight: weight,
                                                         bias: bias, inputNeedsGradient: l.needsGradient),
                           slot: output, shape: shape)
    }

    func forward(_ f: ForwardPass) {
        depthwiseForward(y: f.ws.activation(output), x: f.ws.activation(input), weight: f.parameters + weight,
                         bias: bias.map { f.parameters + $0 }, batch: f.n, shape: shape)
    }

    func backward(_ b: BackwardPass) {
        let ws = b.ws
        depthwiseBackward(dx: inputNeedsGradient ? ws.gradient(input) : nil, dweight: b.gradients + weight,
                          dbias: bias.map { b.gradients + $0 }, dy: ws.gradient(output), x: ws.activation(input),
                          weight: b.parameters + weight, batch: b.n, shape: shape)
    }
}
