// A network built from config: a trunk of layers shared by several heads, each head a few
// linear layers reading the flattened trunk output. The model holds no numbers: parameters
// and buffers are flat arrays owned by the caller (see `parameters`, `buffers`), and all
// activations live in a `Workspace`. Passes are in Model+Forward.swift / Model+Backward.swift.
import LoomConfig
import LoomKernels

/// A compiled network: shapes checked, parameters laid out in PyTorch state_dict order.
public final class Model {
    /// The trunk configuration this model was built from.
    public let config: ModelConfig
    /// The heads, in output order.
    public let heads: [HeadConfig]
    /// Trainable parameters: `c1.weight` [32, 1, 3, 3], `c1.bias` [32], `b1.weight`, ... in
    /// state_dict order; then each head's hidden layers and output layer.
    public let parameters: ParameterLayout
    /// Batch-norm running statistics (`<bn>.running_mean`, `<bn>.running_var`).
    /// `num_batches_tracked` is not stored: the checkpoint derives it from the step count.
    public let buffers: ParameterLayout
    /// Forward FLOPs of one sample through conv and linear layers (multiply-add = 2).
    public let forwardFLOPsPerSample: Int
    /// Floats per input sample, C·H·W.
    public let inputCount: Int
    /// Outputs (logits) per sample of each head.
    public let headOutputs: [Int]
    /// Whether any layer draws dropout masks (then training passes need sample IDs).
    public let hasDropout: Bool
    /// Floats per sample of the trunk's output: the features every head reads (embeddings).
    public let featureCount: Int

    let trunk: [any Operation]
    let headOperations: [[any Operation]]
    /// Per operation of `trunk` and of each head: its parameters and forward FLOPs.
    let trunkSpans: [LayerSpan]
    let headSpans: [[LayerSpan]]
    let logitSlots: [Int]
    let featureSlot: Int
    let slotSizes: [Int]
    let argmaxCount: Int
    let maskCount: Int
    let convShapes: [Conv2DShape]
    let initialisers: [Initialiser]
    let batchNorms: [BatchNormOperation]

    /// Builds the network, checking every layer. Head classes must already be resolved (> 0;
    /// binary heads have 1). Throws naming the layer or head and its config line.
    public init(model: ModelConfig, heads: [HeadConfig]) throws(ModelError) {
        guard model.input.count == 3, model.input.allSatisfy({ $0 > 0 && $0 <= ConfigLimits.inputSide }) else {
            throw .invalidInput(shape: model.input)
        }
        let inputShape = ActivationShape.spatial(channels: model.input[0], height: model.input[1],
                                                 width: model.input[2])
        guard inputShape.count <= ModelLimits.activationsPerSample else {
            throw .tooLarge(what: "model.input \(model.input) holds", amount: "\(inputShape.count) floats per sample",
                            limit: ModelLimits.activationsPerSample)
        }
        var builder = NetworkBuilder(inputCount: inputShape.count)
        builder.winograd = model.convolution == .auto
        let trunk = try builder.build(model.layers, input: 0, shape: inputShape, isHead: false)
        let trunkSpans = builder.lastSpans
        var headSpans: [[LayerSpan]] = []

        var headOperations: [[any Operation]] = []
        var logitSlots: [Int] = []
        for (h, head) in heads.enumerated() {
            guard head.classes > 0 else {
                throw .invalidHead(head: head.name, line: head.line, reason: "needs classes > 0, got \(head.classes)")
            }
            guard head.classes <= ConfigLimits.width else {
                throw .invalidHead(head: head.name, line: head.line, reason: "\(head.classes) classes, over the limit of \(ConfigLimits.width)")
            }
            if let width = head.hidden.first(where: { $0 <= 0 || $0 > ConfigLimits.width }) {
                throw .invalidHead(head: head.name, line: head.line, reason: "hidden width \(width) must be in 1...\(ConfigLimits.width)")
            }
            var layers: [LayerConfig] = []
            for (i, width) in head.hidden.enumerated() {
                var hidden = LayerConfig(kind: .linear, name: "\(head.layer)_hidden\(i)")
                hidden.out = width
                hidden.line = head.line
                var relu = LayerConfig(kind: .relu)
                relu.line = head.line
                layers += [hidden, relu]
            }
            var output = LayerConfig(kind: .linear, name: head.layer)
            output.out = head.classes
            output.line = head.line
            layers.append(output)
            var built = try builder.build(layers, input: trunk.output, shape: .flat(features: trunk.shape.count),
                                          isHead: true, protected: trunk.output)
            // Every head adds its share to the trunk output's gradient; the first one writes it.
            if var first = built.operations[0] as? LinearOperation {
                first.accumulatesInputGradient = h > 0
                built.operations[0] = first
            }
            headOperations.append(built.operations)
            headSpans.append(builder.lastSpans)
            logitSlots.append(built.output)
        }

        self.config = model
        self.heads = heads
        self.parameters = builder.parameters
        self.buffers = builder.buffers
        self.forwardFLOPsPerSample = builder.flops
        self.inputCount = inputShape.count
        self.headOutputs = heads.map(\.classes)
        self.hasDropout = builder.hasDropout
        self.featureCount = trunk.shape.count
        self.featureSlot = trunk.output
        self.trunk = trunk.operations
        self.headOperations = headOperations
        self.trunkSpans = trunkSpans
        self.headSpans = headSpans
        self.logitSlots = logitSlots
        self.slotSizes = builder.slotSizes
        self.argmaxCount = builder.argmaxCount
        self.maskCount = builder.maskCount
        self.convShapes = builder.convShapes
        self.initialisers = builder.initialisers
        self.batchNorms = trunk.operations.flatMap(\.batchNorms)
    }

    /// PyTorch's default initialisation: conv and linear weights and biases U(±1/√fan_in)
    /// (kaiming_uniform with a = √5), batch-norm weight 1, bias 0, running mean 0, var 1.
    /// Layer i draws from KeyedRandom(seed, .initialisation, [i]), i counting all layers
    /// (trunk depth-first, then heads), so adding a head does not change the trunk's draw.
    public func initialParameters(seed: UInt64) -> (parameters: [Float], buffers: [Float]) {
        var values = [Float](repeating: 0, count: parameters.count)
        var state = [Float](repeating: 0, count: buffers.count)
        var currentLayer = -1
        var random = KeyedRandom(seed: seed, purpose: .initialisation)
        for rule in initialisers {
            if rule.layer != currentLayer {
                currentLayer = rule.layer
                random = KeyedRandom(seed: seed, purpose: .initialisation, keys: [UInt64(rule.layer)])
            }
            for i in rule.offset..<(rule.offset + rule.count) {
                let value: Float
                switch rule.rule {
                case let .uniform(bound): value = Float((2 * random.nextDouble() - 1) * bound)
                case let .constant(c): value = c
                }
                if rule.inBuffers { state[i] = value } else { values[i] = value }
            }
        }
        return (values, state)
    }

    /// running ← (1 − momentum)·running + momentum·stats for every batch-norm layer, where
    /// `stats` (buffers layout) holds batch means in the running_mean slots and unbiased
    /// batch variances in the running_var slots (`Workspace.batchStatistics`, possibly
    /// averaged over micro-shards by the caller).
    public func applyBatchStatistics(_ stats: UnsafePointer<Float>, to buffers: UnsafeMutablePointer<Float>) {
        for bn in batchNorms {
            batchNormUpdateRunning(runningMean: buffers + bn.runningMean, runningVar: buffers + bn.runningVar,
                                   batchMean: stats + bn.runningMean, batchVar: stats + bn.runningVar,
                                   channels: bn.channels, momentum: bn.momentum)
        }
    }

    /// A workspace for passes of up to `maxBatch` samples.
    public func makeWorkspace(maxBatch: Int) -> Workspace {
        Workspace(model: self, capacity: maxBatch)
    }
}
