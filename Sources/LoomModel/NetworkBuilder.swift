// Compiles `ModelConfig` + heads into operations, checking every shape on the way and
// laying out the parameters and buffers in PyTorch state_dict order.
import LoomConfig
import LoomKernels

/// The activation shape of one sample between layers.
enum ActivationShape: Equatable, CustomStringConvertible {
    case spatial(channels: Int, height: Int, width: Int)
    case flat(features: Int)

    var count: Int {
        switch self {
        case let .spatial(c, h, w): return c * h * w
        case let .flat(f): return f
        }
    }

    var description: String {
        switch self {
        case let .spatial(c, h, w): return "[\(c), \(h), \(w)]"
        case let .flat(f): return "[\(f)]"
        }
    }
}

/// How one parameter or buffer view is initialised.
struct Initialiser {
    enum Rule { case uniform(bound: Double), constant(Float) }
    /// Streams are keyed by layer index; views of one layer draw from it in order.
    var layer: Int
    var offset: Int
    var count: Int
    var inBuffers: Bool
    var rule: Rule
}

struct NetworkBuilder {
    var parameters = ParameterLayout()
    var buffers = ParameterLayout()
    /// Per-sample floats of each activation slot; slot 0 is the input.
    var slotSizes: [Int]
    var argmaxCount = 0
    var maskCount = 0
    var initialisers: [Initialiser] = []
    var flops = 0
    var hasDropout = false
    var convShapes: [Conv2DShape] = []
    private var nextLayerIndex = 0
    private var lineOfName: [String: Int] = [:]

    init(inputCount: Int) { slotSizes = [inputCount] }

    mutating func newSlot(_ size: Int) -> Int {
        slotSizes.append(size)
        return slotSizes.count - 1
    }

    private static func label(_ layer: LayerConfig, _ index: Int) -> String {
        layer.name.isEmpty ? "#\(index) \(layer.kind.rawValue)" : "'\(layer.name)'"
    }

    /// Registers a state_dict prefix: non-empty, no '/' or spaces (it becomes an HDF5 path),
    /// unique across trunk and heads.
    mutating func claim(name: String, line: Int, required: Bool,
                        fail: (String) -> ModelError) throws(ModelError) {
        if name.isEmpty {
            if required { throw fail("a layer with parameters needs a name (its state_dict prefix)") }
            return
        }
        if name.contains(where: { $0 == "/" || $0.isWhitespace }) {
            throw fail("name '\(name)' may not contain '/' or whitespace")
        }
        if let first = lineOfName[name] { throw .duplicateName(name: name, line: line, firstLine: first) }
        lineOfName[name] = line
    }

    /// Adds `<prefix>.weight` and `<prefix>.bias` drawn U(±1/√fanIn) (PyTorch's default
    /// kaiming_uniform(a=√5) and bias init); returns their offsets.
    mutating func addAffine(prefix: String, weightShape: [Int], bias: Bool, fanIn: Int,
                            layer: Int, isHead: Bool) -> (weight: Int, bias: Int?) {
        let bound = 1 / Double(max(fanIn, 1)).squareRoot()
        let w = parameters.append(name: prefix + ".weight", shape: weightShape, isHead: isHead)!
        initialisers.append(Initialiser(layer: layer, offset: w.offset, count: w.count, inBuffers: false,
                                        rule: .uniform(bound: bound)))
        guard bias else { return (w.offset, nil) }
        let b = parameters.append(name: prefix + ".bias", shape: [weightShape[0]], isBiasOrNorm: true,
                                  isHead: isHead)!
        initialisers.append(Initialiser(layer: layer, offset: b.offset, count: b.count, inBuffers: false,
                                        rule: .uniform(bound: bound)))
        return (w.offset, b.offset)
    }

    /// ReLU then max pool equals max pool then ReLU (max commutes with a monotone map, and
    /// the gradient reaches the same element: the first maximum, or nothing when it is ≤ 0),
    /// so the pair is swapped and the ReLU, its backward pass and its memory shrink by the
    /// pooling factor. Neither layer has parameters, so no state_dict name or key changes.
    static func poolingBeforeReLU(_ layers: [LayerConfig]) -> [LayerConfig] {
        var result = layers
        var i = 0
        while i + 1 < result.count {
            if result[i].kind == .relu && result[i + 1].kind == .maxpool2d {
                result.swapAt(i, i + 1)
                i += 2
            } else {
                i += 1
            }
        }
        return result
    }

    /// Compiles `layers` reading `input` of `shape`. No layer runs in place on slot
    /// `protected` (a residual block's input, needed again by the skip connection) or 0.
    mutating func build(_ layers: [LayerConfig], input: Int, shape: ActivationShape,
                        isHead: Bool, protected: Int = 0) throws(ModelError)
        -> (operations: [Operation], output: Int, shape: ActivationShape) {
        var operations: [Operation] = []
        var slot = input
        var shape = shape
        for layer in Self.poolingBeforeReLU(layers) {
            let index = nextLayerIndex
            nextLayerIndex += 1
            let label = Self.label(layer, index)
            let fail = { (reason: String) in ModelError.invalidLayer(layer: label, line: layer.line, reason: reason) }
            let needsGradient = slot != 0
            let mayRunInPlace = slot != 0 && slot != protected
            let parametric = [.conv2d, .linear, .batchnorm2d, .batchnorm1d].contains(layer.kind)
            try claim(name: layer.name, line: layer.line, required: parametric, fail: fail)

            switch layer.kind {
            case .conv2d:
                guard case let .spatial(c, h, w) = shape else {
                    throw fail("conv2d needs a [C, H, W] input, got \(shape)")
                }
                guard layer.out > 0, layer.kernel > 0, layer.stride > 0, layer.padding >= 0 else {
                    throw fail("conv2d needs out > 0, kernel > 0, stride > 0, padding >= 0")
                }
                guard layer.kernel <= h + 2 * layer.padding, layer.kernel <= w + 2 * layer.padding else {
                    throw fail("kernel \(layer.kernel) is larger than the padded input \(shape) (padding \(layer.padding))")
                }
                let s = Conv2DShape(inChannels: c, outChannels: layer.out, height: h, width: w,
                                    kernel: layer.kernel, stride: layer.stride, padding: layer.padding)
                let (weight, bias) = addAffine(prefix: layer.name, weightShape: [layer.out, c, layer.kernel, layer.kernel],
                                               bias: layer.bias, fanIn: s.columnRows, layer: index, isHead: isHead)
                shape = .spatial(channels: layer.out, height: s.outHeight, width: s.outWidth)
                let output = newSlot(shape.count)
                operations.append(.conv(ConvOperation(shape: s, input: slot, output: output, weight: weight,
                                                      bias: bias, inputNeedsGradient: needsGradient)))
                flops += s.forwardFLOPs
                convShapes.append(s)
                slot = output

            case .linear:
                guard case let .flat(f) = shape else {
                    throw fail("linear needs a flat input, got \(shape): add a flatten layer before it")
                }
                guard layer.out > 0 else { throw fail("linear needs out > 0") }
                let (weight, bias) = addAffine(prefix: layer.name, weightShape: [layer.out, f], bias: layer.bias,
                                               fanIn: f, layer: index, isHead: isHead)
                let output = newSlot(layer.out)
                operations.append(.linear(LinearOperation(inFeatures: f, outFeatures: layer.out, input: slot,
                                                          output: output, weight: weight, bias: bias,
                                                          inputNeedsGradient: needsGradient,
                                                          accumulatesInputGradient: false)))
                flops += 2 * f * layer.out
                shape = .flat(features: layer.out)
                slot = output

            case .batchnorm2d, .batchnorm1d:
                let channels: Int, spatial: Int
                switch (layer.kind, shape) {
                case let (.batchnorm2d, .spatial(c, h, w)): (channels, spatial) = (c, h * w)
                case let (.batchnorm1d, .flat(f)): (channels, spatial) = (f, 1)
                default:
                    throw fail("\(layer.kind.rawValue) cannot normalise a \(shape) input")
                }
                if layer.out != 0 && layer.out != channels {
                    throw fail("\(layer.kind.rawValue) declares \(layer.out) channels but its input has \(channels)")
                }
                guard layer.momentum >= 0, layer.momentum <= 1, layer.eps > 0 else {
                    throw fail("batch norm needs 0 <= momentum <= 1 and eps > 0")
                }
                let w = parameters.append(name: layer.name + ".weight", shape: [channels], isBiasOrNorm: true, isHead: isHead)!
                let b = parameters.append(name: layer.name + ".bias", shape: [channels], isBiasOrNorm: true, isHead: isHead)!
                let rm = buffers.append(name: layer.name + ".running_mean", shape: [channels], isBiasOrNorm: true, isHead: isHead)!
                let rv = buffers.append(name: layer.name + ".running_var", shape: [channels], isBiasOrNorm: true, isHead: isHead)!
                for (view, value, inBuffers) in [(w, Float(1), false), (b, 0, false), (rm, 0, true), (rv, 1, true)] {
                    initialisers.append(Initialiser(layer: index, offset: view.offset, count: view.count,
                                                    inBuffers: inBuffers, rule: .constant(value)))
                }
                let output = newSlot(shape.count)
                operations.append(.batchNorm(BatchNormOperation(
                    channels: channels, spatial: spatial, input: slot, output: output, weight: w.offset,
                    bias: b.offset, runningMean: rm.offset, runningVar: rv.offset,
                    momentum: Float(layer.momentum), eps: Float(layer.eps), inputNeedsGradient: needsGradient)))
                slot = output

            case .relu:
                let output = mayRunInPlace ? slot : newSlot(shape.count)
                operations.append(.relu(ReLUOperation(count: shape.count, input: slot, output: output,
                                                      inputNeedsGradient: needsGradient)))
                slot = output

            case .maxpool2d, .avgpool2d:
                guard case let .spatial(c, h, w) = shape else {
                    throw fail("\(layer.kind.rawValue) needs a [C, H, W] input, got \(shape)")
                }
                guard layer.kernel > 0, layer.stride > 0, layer.padding >= 0, 2 * layer.padding <= layer.kernel else {
                    throw fail("pooling needs kernel > 0, stride > 0 and 0 <= padding <= kernel/2")
                }
                guard layer.kernel <= h + 2 * layer.padding, layer.kernel <= w + 2 * layer.padding else {
                    throw fail("kernel \(layer.kernel) is larger than the padded input \(shape) (padding \(layer.padding))")
                }
                let s = Pool2DShape(channels: c, height: h, width: w, kernel: layer.kernel,
                                    stride: layer.stride, padding: layer.padding)
                shape = .spatial(channels: c, height: s.outHeight, width: s.outWidth)
                let output = newSlot(shape.count)
                if layer.kind == .maxpool2d {
                    operations.append(.maxPool(PoolOperation(shape: s, input: slot, output: output, argmax: argmaxCount,
                                                             inputNeedsGradient: needsGradient)))
                    argmaxCount += shape.count
                } else {
                    operations.append(.avgPool(PoolOperation(shape: s, input: slot, output: output, argmax: 0,
                                                             inputNeedsGradient: needsGradient)))
                }
                slot = output

            case .globalavgpool:
                guard case let .spatial(c, h, w) = shape else {
                    throw fail("globalavgpool needs a [C, H, W] input, got \(shape)")
                }
                let output = newSlot(c)
                operations.append(.globalAvgPool(GlobalPoolOperation(channels: c, spatial: h * w, input: slot,
                                                                     output: output, inputNeedsGradient: needsGradient)))
                shape = .spatial(channels: c, height: 1, width: 1)
                slot = output

            case .flatten:
                shape = .flat(features: shape.count)

            case .dropout:
                guard layer.p >= 0, layer.p < 1 else { throw fail("dropout p must be in [0, 1), got \(layer.p)") }
                let output = newSlot(shape.count)
                operations.append(.dropout(DropoutOperation(features: shape.count, p: Float(layer.p), layer: index,
                                                            input: slot, output: output, mask: maskCount,
                                                            inputNeedsGradient: needsGradient)))
                maskCount += shape.count
                hasDropout = true
                slot = output

            case .residual:
                guard !layer.block.isEmpty else { throw fail("a residual block needs a non-empty block") }
                let body = try build(layer.block, input: slot, shape: shape, isHead: isHead, protected: slot)
                guard body.shape == shape else {
                    throw fail("the block maps \(shape) to \(body.shape); a residual block must keep the shape")
                }
                let output = newSlot(shape.count)
                operations.append(.residual(ResidualOperation(body: body.operations, count: shape.count, input: slot,
                                                              bodyOutput: body.output, output: output,
                                                              inputNeedsGradient: needsGradient)))
                slot = output
            }
        }
        return (Operation.fusingConvolutionTails(operations), slot, shape)
    }
}
