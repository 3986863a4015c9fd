// The typed run configuration. One YAML file per run (under `configs/`) is parsed into a
// `RunConfig` by `ConfigLoader`; every module reads its own section from it. Key names
// follow docs/ARCHITECTURE.md ("Config keys every tool relies on"); docs/CONFIG.md has each key.

/// Everything a run needs, as parsed and validated from YAML (after `--set` overrides).
public struct RunConfig: Equatable, Sendable {
    /// Run name: the config's `name` key, else the config file's base name.
    public var name: String
    public var data: DataConfig
    public var model: ModelConfig
    public var heads: [HeadConfig]
    /// Default loss for every head that does not give its own `loss`.
    public var loss: LossConfig
    public var optimizer: OptimizerConfig
    public var schedule: ScheduleConfig
    public var training: TrainingConfig
    public var cluster: ClusterConfig
    public var checkpoint: CheckpointConfig
    public var calibration: CalibrationConfig
    /// The effective configuration as YAML text (after overrides): stored in checkpoints.
    public var yaml: String

    public init(name: String, data: DataConfig, model: ModelConfig, heads: [HeadConfig],
                loss: LossConfig = LossConfig(), optimizer: OptimizerConfig = OptimizerConfig(),
                schedule: ScheduleConfig = ScheduleConfig(), training: TrainingConfig = TrainingConfig(),
                cluster: ClusterConfig = ClusterConfig(), checkpoint: CheckpointConfig = CheckpointConfig(),
                calibration: CalibrationConfig = CalibrationConfig(), yaml: String = "") {
        self.name = name; self.data = data; self.model = model; self.heads = heads; self.loss = loss
        self.optimizer = optimizer; self.schedule = schedule; self.training = training
        self.cluster = cluster; self.checkpoint = checkpoint; self.calibration = calibration
        self.yaml = yaml
    }
}

// MARK: - data

public struct DataConfig: Equatable, Sendable {
    /// HDF5 dataset file in the layout of docs/ARCHITECTURE.md ("Dataset file").
    public var path: String = "data/fashion-mnist.h5"
    public var trainSplit: String = "train"
    public var testSplit: String = "test"
    /// Fraction of the train split held out (deterministically, by `training.seed`) for validation.
    public var validationFraction: Double = 0
    /// Input normalisation: model input = (pixel/255 - mean[c]) / std[c]. Empty = no centring.
    public var mean: [Double] = []
    public var std: [Double] = []
    public var augment: AugmentConfig = AugmentConfig()
    /// Oversampling of rare classes of one head; nil = plain shuffled epochs.
    public var oversample: OversampleConfig? = nil
    /// Test-time augmentation transforms averaged at evaluation (`identity`, `hflip`, `crop`).
    public var tta: [String] = []
    public init() {}
}

public struct AugmentConfig: Equatable, Sendable {
    /// Random crop after zero padding by this many pixels on each side (0 = off).
    public var cropPadding: Int = 0
    /// Horizontal flip with probability 0.5.
    public var hflip: Bool = false
    /// Brightness jitter: add uniform(-b, b) (in [0,1] pixel units).
    public var brightness: Double = 0
    /// Contrast jitter: scale around the image mean by uniform(1-c, 1+c).
    public var contrast: Double = 0
    /// Random erasing (cutout): one rectangle set to the channel mean; nil = off.
    public var erasing: ErasingConfig? = nil
    /// The last this many epochs of `training.epochs` train on plain images (no augmentation):
    /// the weights and batch-norm statistics end on the distribution the test set has.
    public var plainLastEpochs: Int = 0
    public init() {}
    public var isIdentity: Bool {
        cropPadding == 0 && !hflip && brightness == 0 && contrast == 0 && (erasing?.p ?? 0) == 0
    }
}

/// `data.augment.erasing`: with probability `p`, one rectangle of the image is erased to
/// the channel mean (0 after normalisation). Its area is uniform in `scale` (fractions of
/// the image) and its aspect ratio h/w log-uniform in `ratio`, as in Zhong et al. 2017.
public struct ErasingConfig: Equatable, Sendable {
    public var p: Double = 0.5
    /// [min, max] area as a fraction of the image, 0 < min <= max <= 1.
    public var scale: [Double] = [0.02, 0.33]
    /// [min, max] aspect ratio (height / width), 0 < min <= max.
    public var ratio: [Double] = [0.3, 3.3]
    public init() {}
}

public struct OversampleConfig: Equatable, Sendable {
    public enum Target: String, Sendable, CaseIterable { case uniform, sqrt }
    /// The head (dataset attribute) whose class frequencies are rebalanced.
    public var head: String
    public var target: Target
    public init(head: String, target: Target) { self.head = head; self.target = target }
}

// MARK: - model

/// The shared trunk: an ordered list of layers applied to the input.
public struct ModelConfig: Equatable, Sendable {
    /// Input shape [C, H, W].
    public var input: [Int] = [1, 28, 28]
    public var layers: [LayerConfig] = []
    /// `model.convolution`: which kernels a 3×3 stride-1 convolution may run.
    public var convolution: ConvolutionChoice = .auto
    public init() {}
}

/// `model.convolution` (docs/CONFIG.md, docs/KERNELS.md).
public enum ConvolutionChoice: String, Sendable, CaseIterable {
    /// The fastest kernel for each shape, Winograd F(2×2, 3×3) included (its own bits).
    case auto
    /// Only the direct kernels and sgemm: the bits of Loom before Winograd.
    case direct
}

/// One layer. `name` is the PyTorch state_dict prefix for layers with parameters
/// (`c1` gives `c1.weight`, `c1.bias`); parameter-free layers may leave it empty.
public struct LayerConfig: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case conv2d, linear, batchnorm2d, batchnorm1d, relu, maxpool2d, avgpool2d
        case globalavgpool, flatten, dropout
        /// Residual block: output = shortcut(input) + body(input); the body is `block`, the
        /// shortcut is `shortcut` (empty: the identity).
        case residual
        /// SiLU (swish): x·σ(x).
        case silu
        /// Depthwise convolution: one k×k filter per channel (PyTorch `Conv2d(C, C, k, groups=C)`).
        case depthwise2d
        /// Squeeze-and-excitation: x·σ(fc2(act(fc1(mean_hw(x))))), fc1/fc2 1×1 convolutions.
        case squeeze_excite
        /// Concatenation along channels of `branches`, each a list of layers reading the input.
        case concat
    }
    public var kind: Kind
    public var name: String = ""
    /// conv2d: output channels; linear: output features.
    public var out: Int = 0
    public var kernel: Int = 3
    public var stride: Int = 1
    public var padding: Int = 0
    public var bias: Bool = true
    /// dropout probability.
    public var p: Double = 0.5
    /// batch norm.
    public var momentum: Double = 0.1
    public var eps: Double = 1e-5
    /// batch norm: the initial value of its weight (γ); 0 makes a residual body start as zero,
    /// so its block starts as its shortcut (Goyal et al. 2017).
    public var gammaInit: Double = 1
    /// Body of a residual block.
    public var block: [LayerConfig] = []
    /// Shortcut of a residual block (empty: the identity), e.g. a 1×1 stride-2 conv + BN.
    public var shortcut: [LayerConfig] = []
    /// Branches of a concat layer, concatenated along channels in this order.
    public var branches: [[LayerConfig]] = []
    /// squeeze_excite: channels of the squeezed vector (fc1's output).
    public var squeeze: Int = 0
    /// squeeze_excite: the activation between fc1 and fc2.
    public var activation: Activation = .relu
    public enum Activation: String, Sendable, CaseIterable { case relu, silu }
    /// 1-based line in the YAML file where this layer was declared (0 if unknown), for errors.
    public var line: Int = 0
    public init(kind: Kind, name: String = "") { self.kind = kind; self.name = name }
}

// MARK: - heads and losses

public struct HeadConfig: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable, Codable { case softmax, binary, multilabel }
    /// Head name; also the dataset attribute (`/<split>/labels/<attribute>` or `/targets/`).
    public var name: String
    public var kind: Kind
    /// Dataset attribute read for this head's labels (defaults to `name`).
    public var attribute: String
    /// Number of outputs: classes (softmax, multilabel) or 1 (binary). 0 = from the dataset.
    public var classes: Int = 0
    /// state_dict name of the head's output linear layer (defaults to `head.<name>`).
    public var layer: String
    /// Hidden widths of optional extra linear+ReLU layers between trunk and output layer.
    public var hidden: [Int] = []
    /// Weight of this head's loss in the total loss.
    public var lossWeight: Double = 1
    /// The head's own loss; nil = the run's default `loss`.
    public var loss: LossConfig? = nil
    public var line: Int = 0
    public init(name: String, kind: Kind, attribute: String? = nil, classes: Int = 0, layer: String? = nil) {
        self.name = name; self.kind = kind; self.attribute = attribute ?? name
        self.classes = classes; self.layer = layer ?? "head.\(name)"
    }
}

public struct LossConfig: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// softmax cross-entropy (optionally label-smoothed / class-weighted); for binary and
        /// multilabel heads this means BCE with logits.
        case crossEntropy = "cross_entropy"
        case focal
        case mse
    }
    public enum ClassWeights: Equatable, Sendable {
        case none
        case given([Double])
        case inverseFrequency
        /// Cui et al. 2019: (1 - beta) / (1 - beta^n_c), normalised to mean 1.
        case effectiveNumber(beta: Double)
    }
    public var kind: Kind = .crossEntropy
    public var labelSmoothing: Double = 0
    public var classWeights: ClassWeights = .none
    /// Focal loss focusing parameter.
    public var gamma: Double = 2
    /// Focal alpha: softmax focal takes per-class alpha (`alphaPerClass`); sigmoid focal a scalar.
    public var alpha: Double? = nil
    public var alphaPerClass: [Double] = []
    /// BCE positive-class weights per output.
    public var posWeight: [Double] = []
    public init() {}
}

// MARK: - optimisation

public struct OptimizerConfig: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable { case sgd, adam, adamw }
    public var kind: Kind = .sgd
    /// Base learning rate (before warmup, schedule and linear scaling).
    public var lr: Double = 0.05
    public var momentum: Double = 0.9
    public var nesterov: Bool = false
    public var dampening: Double = 0
    /// L2 penalty for sgd/adam; decoupled decay for adamw.
    public var weightDecay: Double = 0
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var eps: Double = 1e-8
    /// No weight decay on biases and batch-norm parameters.
    public var noDecayOnBiasAndNorm: Bool = false
    /// Learning-rate multiplier for trunk parameters (heads use 1); < 1 for fine-tuning.
    public var trunkLRScale: Double = 1
    /// Linear scaling rule: lr *= batch_size / reference_batch. 0 = off.
    public var referenceBatch: Int = 0
    public init() {}
}

public struct ScheduleConfig: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable { case constant, step, cosine, sgdr }
    /// Unit in which periods (`step_size`, `t_max`, `t_0`, warmup) are counted.
    public enum Unit: String, Sendable, CaseIterable { case epoch, step }
    public var kind: Kind = .constant
    public var unit: Unit = .epoch
    /// step: multiply by `gamma` every `stepSize` units.
    public var stepSize: Double = 1
    public var gamma: Double = 0.1
    /// cosine: period in units (0 = the whole run).
    public var tMax: Double = 0
    /// sgdr (PyTorch CosineAnnealingWarmRestarts).
    public var t0: Double = 10
    public var tMult: Int = 1
    public var etaMin: Double = 0
    /// Linear warmup from lr*warmup_start_factor to lr over this many units, before the schedule.
    public var warmup: Double = 0
    public var warmupStartFactor: Double = 0
    public init() {}
}

public struct TrainingConfig: Equatable, Sendable {
    public var seed: UInt64 = 1
    public var epochs: Int = 10
    /// Stop after this many optimizer steps (0 = run all epochs).
    public var maxSteps: Int = 0
    /// Global batch B.
    public var batchSize: Int = 128
    /// Micro-shard size m (B must be a multiple of m). BN statistics are per micro-shard.
    public var microBatch: Int = 32
    /// Log a line every this many steps when not on a terminal.
    public var logEverySteps: Int = 50
    /// Evaluate on the validation split every this many steps (0 = at epoch ends only).
    public var evalEverySteps: Int = 0
    /// Evaluate at the end of every this many epochs, and at the end of the run (0 = only
    /// at the end of the run).
    public var evalEveryEpochs: Int = 1
    /// At the end of the run, also evaluate the test split over the views of `data.tta`
    /// (reported beside the plain evaluation, never in the history).
    public var testTTA: Bool = false
    /// Directory for TensorBoard event files of the history rows as they are logged
    /// (empty = none; relative to the working directory).
    public var tensorboard: String = ""
    /// Stop when a validation metric stops improving (nil = run every epoch).
    public var earlyStopping: EarlyStoppingConfig? = nil
    /// Layers the optimizer leaves alone: for the first `freezeEpochs` epochs, or the whole
    /// run when `freezeEpochs` is 0.
    public var freeze: FrozenLayers = .layers([])
    public var freezeEpochs: Int = 0
    public init() {}
}

public struct ClusterConfig: Equatable, Sendable {
    public var heartbeatMs: Int = 500
    public var workerTimeoutMs: Int = 5000
    /// `loom train --workers N`: give each local worker its own CPU when there are ≥ N.
    public var pinLocalWorkers: Bool = true
    /// Offer workers on the coordinator's machine weights and gradients through shared
    /// memory (/dev/shm) instead of the socket.
    public var sharedMemory: Bool = true
    /// Milliseconds a worker may hold a piece of a step before it goes to another worker
    /// and the worker sits out the rest of the step; 0 = automatic (a multiple of the
    /// recent time per micro-shard, at least `stepDeadlineFloorMs`).
    public var stepDeadlineMs: Int = 0
    /// The automatic deadline's floor, milliseconds: the first steps and evaluations, which
    /// have no history yet, get this long.
    public var stepDeadlineFloorMs: Int = 10_000
    /// Share of steps whose every block is also computed by a second worker and compared
    /// bit for bit (0 = no audit).
    public var audit: Double = 0.02
    /// Shard servers (`loom server`) that hold the parameters and optimizer state in this
    /// many slices; 0 = none, the coordinator sums and applies every gradient.
    public var servers: Int = 0
    /// How gradients and weights travel between processes: float32 as computed, or rounded
    /// to bfloat16 (half the bytes). The rounding is part of the run's definition, so a
    /// bf16 run rounds the same way with `--workers 0` (docs/CLUSTER.md, "bf16 on the wire").
    public var wire: WireFormat = .fp32
    /// With shard servers: workers push each layer's gradient while the backward pass goes
    /// on, servers update and send back each range as soon as its sum is complete
    /// (docs/CLUSTER.md, "Overlap"). The bits do not change; off by default.
    public var overlap: Bool = false
    public init() {}
}

/// `cluster.wire`: the number format of gradients and weights between processes.
public enum WireFormat: String, CaseIterable, Equatable, Sendable {
    /// float32, 4 bytes a value: the bits as computed.
    case fp32
    /// bfloat16, 2 bytes a value: every micro-shard gradient, every sum of two along the
    /// reduction tree, and the weights the workers compute with are rounded to nearest even.
    case bf16
}

public struct CheckpointConfig: Equatable, Sendable {
    /// Run directory; empty = `runs/<name>`.
    public var dir: String = ""
    public var everySteps: Int = 500
    public var keep: Int = 3
    /// Checkpoint writes that may fail in a row (a full disk) while the run goes on and
    /// tries again at the next one; 0 stops the run at the first failure.
    public var maxConsecutiveFailures: Int = 3
    /// Keep `best.h5`, the checkpoint of the best evaluation of this metric (nil = none).
    public var keepBest: KeepBestConfig? = nil
    public init() {}
}

public struct CalibrationConfig: Equatable, Sendable {
    /// Split used to fit temperatures: `validation` (carved from train) or a dataset split.
    public var split: String = "validation"
    public var maxIterations: Int = 200
    public init() {}
}

// Source lines are diagnostics, not meaning: a config re-read from a checkpoint's YAML (where
// lines differ) must compare equal to the one the run started from.
extension LayerConfig {
    public static func == (a: LayerConfig, b: LayerConfig) -> Bool {
        a.kind == b.kind && a.name == b.name && a.out == b.out && a.kernel == b.kernel
            && a.stride == b.stride && a.padding == b.padding && a.bias == b.bias && a.p == b.p
            && a.momentum == b.momentum && a.eps == b.eps && a.gammaInit == b.gammaInit && a.block == b.block
    }
}

extension HeadConfig {
    public static func == (a: HeadConfig, b: HeadConfig) -> Bool {
        a.name == b.name && a.kind == b.kind && a.attribute == b.attribute && a.classes == b.classes
            && a.layer == b.layer && a.hidden == b.hidden && a.lossWeight == b.lossWeight && a.loss == b.loss
    }
}

extension RunConfig {
    /// The run directory: `checkpoint.dir`, or `runs/<name>` when unset.
    public var runDirectory: String { checkpoint.dir.isEmpty ? "runs/\(name)" : checkpoint.dir }
}
