// The plain values a checkpoint holds. The training loop converts its live state into
// these; the writer maps them onto the HDF5 layout described in docs/CHECKPOINT.md.

/// One named tensor of the model's state_dict, in PyTorch layout (row-major).
///
/// Shapes: conv weight `(out, in, kh, kw)`, linear weight `(out, in)`, bias `(out)`,
/// batch-norm weight/bias/running_mean/running_var `(C)`.
public struct NamedTensor: Equatable, Sendable {
    /// PyTorch state_dict name, e.g. `"c1.weight"`, `"b1.running_mean"`.
    public var name: String
    /// Dimensions, outermost first. `values.count` equals their product.
    public var shape: [Int]
    /// Elements in row-major (C) order.
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name; self.shape = shape; self.values = values
    }

    /// Number of elements the shape describes (1 for a scalar `[]`).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Optimizer state: the step counter and per-element slots.
public struct OptimizerSnapshot: Equatable, Sendable {
    /// `"sgd"`, `"adam"`, `"adamw"`, ...
    public var kind: String
    /// Number of optimizer steps taken (Adam's bias correction depends on it).
    public var step: Int
    /// Slot name → flat values in parameter-layout order: the model's tensors in state_dict
    /// order, without batch-norm running statistics (`momentum_buffer`, `exp_avg`, `exp_avg_sq`).
    public var slots: [String: [Float]]

    public init(kind: String, step: Int, slots: [String: [Float]] = [:]) {
        self.kind = kind; self.step = step; self.slots = slots
    }
}

/// Position in the learning-rate schedule (SGDR vocabulary: PyTorch's
/// CosineAnnealingWarmRestarts `T_cur`, `T_i`).
public struct ScheduleSnapshot: Equatable, Sendable {
    public var kind: String
    /// Fractional epoch the schedule was last stepped to.
    public var epoch: Double
    /// Epochs since the last restart.
    public var tCur: Double
    /// Length of the current cycle in epochs.
    public var tI: Double
    /// Number of warm restarts so far.
    public var restarts: Int
    /// Learning rate in effect at the checkpoint.
    public var lr: Double

    public init(kind: String, epoch: Double, tCur: Double, tI: Double, restarts: Int, lr: Double) {
        self.kind = kind; self.epoch = epoch; self.tCur = tCur; self.tI = tI
        self.restarts = restarts; self.lr = lr
    }
}

/// Where the sampler is: the epoch order is a pure function of (seed, epoch), so
/// these three numbers reproduce the exact remaining sample order.
public struct SamplerSnapshot: Equatable, Sendable {
    public var seed: UInt64
    public var epoch: Int
    /// Number of global batches already taken from this epoch.
    public var stepInEpoch: Int

    public init(seed: UInt64, epoch: Int, stepInEpoch: Int) {
        self.seed = seed; self.epoch = epoch; self.stepInEpoch = stepInEpoch
    }
}

/// Input normalisation: model input = `(pixel * scale - mean[c]) / std[c]`.
public struct PreprocessingSnapshot: Equatable, Sendable {
    public var scale: Double
    /// Per channel `(C)`.
    public var mean: [Double]
    /// Per channel `(C)`.
    public var std: [Double]

    public init(scale: Double, mean: [Double], std: [Double]) {
        self.scale = scale; self.mean = mean; self.std = std
    }
}

/// Everything a checkpoint holds: enough to resume a run bitwise exactly and to load
/// the weights into PyTorch.
public struct CheckpointContents: Equatable, Sendable {
    /// Run identifier: a u64 in hex (1-16 lowercase or uppercase hex digits).
    public var runID: String
    /// Optimizer steps completed.
    public var step: Int
    public var epoch: Int
    public var stepInEpoch: Int
    /// The effective configuration as YAML text.
    public var config: String
    public var datasetFingerprint: String
    /// Weights and buffers in state_dict order (PyTorch names and layouts).
    public var model: [NamedTensor]
    /// Batch-norm layer names (e.g. `"b1"`): each gets an int64 scalar
    /// `/model/<layer>/num_batches_tracked` so `load_state_dict(strict=True)` works.
    public var batchNormLayers: [String]
    /// Value written for every `num_batches_tracked`.
    public var numBatchesTracked: Int
    public var optimizer: OptimizerSnapshot
    public var schedule: ScheduleSnapshot
    public var sampler: SamplerSnapshot
    /// Named RNG states (stream name → state).
    public var rngStates: [String: UInt64]
    public var preprocessing: PreprocessingSnapshot
    /// Head name → softmax temperature (empty until `loom calibrate`).
    public var calibration: [String: Double]
    public var metrics: MetricsHistory
    /// Free-form string attributes, stored on `/extra`.
    public var extraAttributes: [String: String]
    /// ISO 8601 UTC time of writing; the writer fills it in when empty, the reader returns it.
    public var createdUTC: String
    /// The kernels the run's gradients were computed with: OpenBLAS's core type (e.g.
    /// "SkylakeX") and the instruction path of Loom's own kernels (e.g. "avx512"). Empty when
    /// not recorded (checkpoints written before Loom recorded them, or before any worker).
    public var blasCore: String = ""
    public var loomKernelPath: String = ""
    /// The revision of Loom's arithmetic (`loom_kernel_revision`; 0 when not recorded).
    public var loomKernelRevision: Int = 0

    public init(runID: String, step: Int, epoch: Int, stepInEpoch: Int, config: String,
                datasetFingerprint: String, model: [NamedTensor], batchNormLayers: [String] = [],
                numBatchesTracked: Int = 0, optimizer: OptimizerSnapshot, schedule: ScheduleSnapshot,
                sampler: SamplerSnapshot, rngStates: [String: UInt64] = [:],
                preprocessing: PreprocessingSnapshot, calibration: [String: Double] = [:],
                metrics: MetricsHistory = MetricsHistory(), extraAttributes: [String: String] = [:],
                createdUTC: String = "") {
        self.runID = runID; self.step = step; self.epoch = epoch; self.stepInEpoch = stepInEpoch
        self.config = config; self.datasetFingerprint = datasetFingerprint; self.model = model
        self.batchNormLayers = batchNormLayers; self.numBatchesTracked = numBatchesTracked
        self.optimizer = optimizer; self.schedule = schedule; self.sampler = sampler
        self.rngStates = rngStates; self.preprocessing = preprocessing; self.calibration = calibration
        self.metrics = metrics; self.extraAttributes = extraAttributes; self.createdUTC = createdUTC
    }

    /// The model tensors that are trainable parameters, in layout order: everything except
    /// batch-norm running statistics. Optimizer slots are laid out over these.
    public var parameters: [NamedTensor] { model.filter { !CheckpointLayout.isBuffer($0.name) } }

    /// Total number of trainable parameter elements.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.elementCount } }
}
