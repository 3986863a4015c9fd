// conv2d: PyTorch `nn.Conv2d` (weight [out, in, k, k], optional bias): Loom's direct or
// Winograd kernels, or im2col + sgemm, by shape (Conv2D.swift, DirectConvolution.swift,
// Winograd.swift) and `model.convolution`.
import LoomKernels

struct ConvOperation: Operation {
    var shape: Conv2DShape
    var input: Int, output: Int
    var weight: Int, bias: Int?
    var inputNeedsGradient: Bool
    /// A fused batch-norm tail follows: in training, leave per-plane moments in the workspace.
    var feedsNormalisation = false
    /// `model.convolution: auto`: the shapes Winograd takes run it (forward and dx).
    var winograd = false

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        try l.requireName()
        let layer = l.layer
        guard case let .spatial(c, h, w) = l.shape else {
            throw l.fail("conv2d needs a [C, H, W] input, got \(l.shape)")
        }
        guard layer.out > 0, layer.kernel > 0, layer.stride > 0, layer.padding >= 0 else {
            throw l.fail("conv2d needs out > 0, kernel > 0, stride > 0, padding >= 0")
        }
        guard layer.kernel <= h + 2 * layer.padding, layer.kernel <= w + 2 * layer.padding else {
            throw l.fail("kernel \(layer.kernel) is larger than the padded input \(l.shape) (padding \(layer.padding))")
        }
        let s = Conv2DShape(inChannels: c, outChannels: layer.out, height: h, width: w,
                            kernel: layer.kernel, stride: layer.stride, padding: layer.padding)
        let (weight, bias) = b.addAffine(prefix: layer.name, weightShape: [layer.out, c, layer.kernel, layer.kernel],
                                         bias: layer.bias, fanIn: s.columnRows, layer: l.index, isHead: l.isHead)
        let shape = ActivationShape.spatial(channels: layer.out, height: s.outHeight, width: s.outWidth)
        let output = b.newSlot(shape.count)
        b.flops += s.forwardFLOPs
        b.convShapes.append(s)
        return LayerOutput(operation: ConvOperation(shape: s, input: l.slot, output: output, weight: weight, bias: bias,
                                                    inputNeedsGradient: l.needsGradient, winograd: b.winograd),
                           slot: output, shape: shape)
    }

    func forward(_ f: ForwardPass) {
        let ws = f.ws
        conv2dForward(y: ws.activation(output), x: ws.activation(input), weight: f.parameters + weight,
                      bias: bias.map { f.parameters + $0 }, batch: f.n, shape: shape, scratch: ws.scratch,
                      imagesPerGEMM: shape.imagesPerGEMM(batch: f.n),
                      moments: f.training && feedsNormalisation ? ws.moments : nil, winograd: winograd)
    }

    func backward(_ b: BackwardPass) {
        let ws = b.ws
        conv2dBackward(dx: inputNeedsGradient ? ws.gradient(input) : nil, dweight: b.gradients + weight,
                       dbias: bias.map { b.gradients + $0 }, dy: ws.gradient(output), x: ws.activation(input),
                       weight: b.parameters + weight, batch: b.n, shape: shape, scratch: ws.scratch,
                       imagesPerGEMM: shape.imagesPerGEMM(batch: b.n), winograd: winograd)
    }
}
