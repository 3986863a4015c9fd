// maxpool2d, avgpool2d (PyTorch `nn.MaxPool2d`, `nn.AvgPool2d` with count_include_pad) and
// globalavgpool (`nn.AdaptiveAvgPool2d(1)`).
import LoomKernels

/// kernel, stride and padding of a pooling layer, checked against its input.
private func poolShape(_ l: LayerInput) throws(ModelError) -> Pool2DShape {
    let layer = l.layer
    guard case let .spatial(c, h, w) = l.shape else {
        throw l.fail("\(layer.kind.rawValue) needs a [C, H, W] input, got \(l.shape)")
    }
    guard layer.kernel > 0, layer.stride > 0, layer.padding >= 0, 2 * layer.padding <= layer.kernel else {
        throw l.fail("pooling needs kernel > 0, stride > 0 and 0 <= padding <= kernel/2")
    }
    guard layer.kernel <= h + 2 * layer.padding, layer.kernel <= w + 2 * layer.padding else {
        throw l.fail("kernel \(layer.kernel) is larger than the padded input \(l.shape) (padding \(layer.padding))")
    }
    return Pool2DShape(channels: c, height: h, width: w, kernel: layer.kernel, stride: layer.stride,
                       padding: layer.padding)
}

struct MaxPoolOperation: Operation {
    var shape: Pool2DShape
    var input: Int, output: Int
    /// Offset of this layer's argmax indices (per sample) in the workspace's Int32 arena.
    var argmax: Int
    var inputNeedsGradient: Bool

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        let s = try poolShape(l)
        let shape = ActivationShape.spatial(channels: s.channels, height: s.outHeight, width: s.outWidth)
        let output = b.newSlot(shape.count)
        let op = MaxPoolOperation(shape: s, input: l.slot, output: output, argmax: b.argmaxCount,
                                  inputNeedsGradient: l.needsGradient)
        b.argmaxCount += shape.count
        return LayerOutput(operation: op, slot: output, shape: shape)
    }

    func forward(_ f: ForwardPass) {
        maxPool2dForward(y: f.ws.activation(output), argmax: f.ws.argmax + argmax * f.ws.capacity,
                         x: f.ws.activation(input), batch: f.n, shape: shape)
    }

    func backward(_ b: BackwardPass) {
        guard inputNeedsGradient else { return }
        maxPool2dBackward(dx: b.ws.gradient(input), dy: b.ws.gradient(output),
                          argmax: b.ws.argmax + argmax * b.ws.capacity, batch: b.n, shape: shape)
    }
}

struct AvgPoolOperation: Operation {
    var shape: Pool2DShape
    var input: Int, output: Int
    var inputNeedsGradient: Bool

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        let s = try poolShape(l)
        let shape = ActivationShape.spatial(channels: s.channels, height: s.outHeight, width: s.outWidth)
        let output = b.newSlot(shape.count)
        return LayerOutput(operation: AvgPoolOperation(shape: s, input: l.slot, output: output,
                                                       inputNeedsGradient: l.needsGradient),
                           slot: output, shape: shape)
    }

    func forward(_ f: ForwardPass) {
        avgPool2dForward(y: f.ws.activation(output), x: f.ws.activation(input), batch: f.n, shape: shape)
    }

    func backward(_ b: BackwardPass) {
        guard inputNeedsGradient else { return }
        avgPool2dBackward(dx: b.ws.gradient(input), dy: b.ws.gradient(output), batch: b.n, shape: shape)
    }
}

struct GlobalAvgPoolOperation: Operation {
    var channels: Int, spatial: Int
    var input: Int, output: Int
    var inputNeedsGradient: Bool

    static func compile(_ l: LayerInput, _ b: inout NetworkBuilder) throws(ModelError) -> LayerOutput {
        guard case let .spatial(c, h, w) = l.shape else {
            throw l.fail("globalavgpool needs a [C, H, W] input, got \(l.shape)")
        }
        let output = b.newSlot(c)
        return LayerOutput(operation: GlobalAvgPoolOperation(channels: c, spatial: h * w, input: l.slot, output: output,
                                                             inputNeedsGradient: l.needsGradient),
                           slot: output, shape: .spatial(channels: c, height: 1, width: 1))
    }

    func forward(_ f: ForwardPass) {
        globalAvgPoolForward(y: f.ws.activation(output), x: f.ws.activation(input), batch: f.n,
                             channels: channels, spatial: spatial)
    }

    func backward(_ b: BackwardPass) {
        guard inputNeedsGradient else { return }
        globalAvgPoolBackward(dx: b.ws.gradient(input), dy: b.ws.gradient(output), batch: b.n,
                              channels: channels, spatial: spatial)
    }
}
