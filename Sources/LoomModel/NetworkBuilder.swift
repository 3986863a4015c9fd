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
    /// `model.convolution: auto`: convolutions may run the Winograd kernel.
    var winograd = true
    private var nextLayerIndex = 0
    /// The spans of the operations the last `build` returned, one per operation.
    var lastSpans: [LayerSpan] = []
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
        -> (operations: [any Operation], output: Int, shape: ActivationShape) {
        var operations: [any Operation] = []
        var spans: [LayerSpan] = []
        var slot = input
        var shape = shape
        for layer in Self.poolingBeforeReLU(layers) {
            let index = nextLayerIndex
            nextLayerIndex += 1
            let input = LayerInput(layer: layer, index: index, label: Self.label(layer, index), slot: slot, shape: shape,
                                   isHead: isHead, needsGradient: slot != 0, mayRunInPlace: slot != 0 && slot != protected)
            guard index < ModelLimits.layers else {
                throw .tooLarge(what: "the network has", amount: "more layers", limit: ModelLimits.layers)
            }
            try checkBounds(input)
            try claim(name: layer.name, line: layer.line, required: false, fail: input.fail)
            let (parametersBefore, flopsBefore) = (parameters.count, flops)
            let compiled = try compile(input)
            // A concat's output is its branches' together: bounded only once they are built.
            if compiled.shape.count > ModelLimits.activationsPerSample {
                throw .tooLarge(what: "layer \(input.label) (line \(layer.line)) makes an activation of",
                                amount: "\(compiled.shape.count) floats per sample", limit: ModelLimits.activationsPerSample)
            }
            if let operation = compiled.operation {
                operations.append(operation)
                spans.append(LayerSpan(parameters: parametersBefore..<parameters.count, flops: flops - flopsBefore))
            }
            slot = compiled.slot
            shape = compiled.shape
        }
        let fused = fusingConvolutionTails(operations, spans: spans)
        lastSpans = fused.spans
        return (fused.operations, slot, shape)
    }

    /// One layer of the config, by kind: each kind's file in Layers/ says how it compiles.
    private mutating func compile(_ l: LayerInput) throws(ModelError) -> LayerOutput {
        switch l.layer.kind {
        case .conv2d: return try ConvOperation.compile(l, &self)
        case .linear: return try LinearOperation.compile(l, &self)
        case .batchnorm2d, .batchnorm1d: return try BatchNormOperation.compile(l, &self)
        case .relu: return try ReLUOperation.compile(l, &self)
        case .maxpool2d: return try MaxPoolOperation.compile(l, &self)
        case .avgpool2d: return try AvgPoolOperation.compile(l, &self)
        case .globalavgpool: return try GlobalAvgPoolOperation.compile(l, &self)
        case .dropout: return try DropoutOperation.compile(l, &self)
        case .residual: return try ResidualOperation.compile(l, &self)
        case .silu: return try SiLUOperation.compile(l, &self)
        case .depthwise2d: return try DepthwiseOperation.compile(l, &self)
        case .squeeze_excite: return try SqueezeExciteOperation.compile(l, &self)
        case .concat: return try ConcatOperation.compile(l, &self)
        case .flatten: return LayerOutput(operation: nil, slot: l.slot, shape: .flat(features: l.shape.count))
        }
    }
}
