// Messages of the training loop (assignment, result, weights, heartbeat) and of evaluation
// (evaluate, evaluation).
// Their payload frames are raw little-endian arrays (see PayloadCoding.swift).

/// Coordinator → worker: compute micro-shards `firstShard ..< firstShard + shardCount` of
/// optimizer step `step`, with the weights of version `weightsVersion`.
///
/// Micro-shard `firstShard + i` holds the samples
/// `sampleIndices[offset(i) ..< offset(i) + shardSampleCounts[i]]` (offsets are running sums).
/// Every random choice is keyed by (seed, epoch/step, sample or micro-shard index), so the
/// worker needs nothing else to reproduce the coordinator's plan.
public struct Assignment: Equatable, Sendable {
    public var runID: UInt64
    public var step: UInt64
    public var epoch: UInt32
    public var weightsVersion: UInt64
    /// Global index of the first micro-shard in this assignment.
    public var firstShard: UInt32
    /// Samples per micro-shard, u32 [shardCount]; each ≥ 1.
    public var shardSampleCounts: [UInt32]
    /// Dataset indices of the samples, in micro-shard order (u64 [Σ shardSampleCounts] on
    /// the wire, each below 2^63).
    public var sampleIndices: [Int]
    /// For workers without local data: one fixed-size record per sample, in the order of
    /// `sampleIndices` (uint8 [N, recordSize]; the record layout belongs to LoomCluster).
    /// Empty when the worker reads its own copy of the dataset.
    public var sampleRecords: [UInt8]
    /// Per head: the step's loss weight / loss normaliser over the whole global batch,
    /// float32 [heads], finite. A worker cannot compute it from its share of the batch; it
    /// scales its loss gradients by it.
    public var headScales: [Float]
    /// Header flag `shared`: put the gradient sum in your shared region (a worker without one
    /// sends it in the message as usual).
    public var sharedResult: Bool

    public init(runID: UInt64, step: UInt64, epoch: UInt32, weightsVersion: UInt64, firstShard: UInt32,
                shardSampleCounts: [UInt32], sampleIndices: [Int], sampleRecords: [UInt8] = [],
                headScales: [Float] = [], sharedResult: Bool = false) {
        self.sharedResult = sharedResult
        self.runID = runID
        self.step = step
        self.epoch = epoch
        self.weightsVersion = weightsVersion
        self.firstShard = firstShard
        self.shardSampleCounts = shardSampleCounts
        self.sampleIndices = sampleIndices
        self.sampleRecords = sampleRecords
        self.headScales = headScales
    }

    public var shardCount: Int { shardSampleCounts.count }

    /// Bytes per sample record, 0 when no records are shipped.
    public var recordSize: Int { sampleIndices.isEmpty ? 0 : sampleRecords.count / sampleIndices.count }

    /// Dataset indices of the samples of the `i`-th micro-shard of this assignment
    /// (global micro-shard `firstShard + i`).
    public func samples(ofShard i: Int) -> ArraySlice<Int> {
        let start = shardSampleCounts[..<i].reduce(0) { $0 + Int($1) }
        return sampleIndices[start ..< start + Int(shardSampleCounts[i])]
    }
}

/// Worker → coordinator: the contribution of micro-shards `firstShard ..< firstShard +
/// shardCount` of step `step`, already reduced by the worker along the fixed reduction tree
/// (one result per aligned subtree; a worker may send several results per assignment).
public struct BlockResult: Equatable, Sendable {
    public var runID: UInt64
    public var step: UInt64
    public var epoch: UInt32
    public var weightsVersion: UInt64
    public var firstShard: UInt32
    public var shardCount: UInt32
    /// Sum over the samples of the loss gradient, float32 [P] in the flat parameter order.
    /// Empty when `sharedGradient` is set.
    public var gradientSum: [Float]
    /// Batch-norm batch statistics (sums for mean and variance), float32 [S].
    public var batchNormStatistics: [Float]
    /// Loss and metric sums, float64 [K] (meaning fixed by LoomCluster).
    public var metricSums: [Double]
    /// Sample counts behind the sums (samples seen, labelled samples per head...), u64 [C].
    public var sampleCounts: [UInt64]
    /// Header flag `shared`: the gradient sum is in this slot of the worker's shared region.
    public var sharedGradient: SharedSlot?
    /// Header flag `bf16`: the gradient sum travels as bfloat16 (2 bytes a value, rounded to
    /// nearest even by `BFloat16Codec`) and is widened on receipt. Ignored with
    /// `sharedGradient` (a shared slot holds float32).
    public var bf16: Bool

    public init(runID: UInt64, step: UInt64, epoch: UInt32, weightsVersion: UInt64, firstShard: UInt32,
                shardCount: UInt32, gradientSum: [Float], batchNormStatistics: [Float],
                metricSums: [Double], sampleCounts: [UInt64], sharedGradient: SharedSlot? = nil, bf16: Bool = false) {
        self.sharedGradient = sharedGradient
        self.bf16 = bf16
        self.runID = runID
        self.step = step
        self.epoch = epoch
        self.weightsVersion = weightsVersion
        self.firstShard = firstShard
        self.shardCount = shardCount
        self.gradientSum = gradientSum
        self.batchNormStatistics = batchNormStatistics
        self.metricSums = metricSums
        self.sampleCounts = sampleCounts
    }
}

/// Coordinator → worker: the full model state of version `weightsVersion`, to be used by
/// assignments that name this version.
public struct WeightsUpdate: Equatable, Sendable {
    public var runID: UInt64
    public var step: UInt64
    public var weightsVersion: UInt64
    /// Trainable parameters, float32 [P] in the flat parameter order; empty when `shared`.
    public var parameters: [Float]
    /// Non-trainable buffers (batch-norm running mean/var), float32 [S].
    public var buffers: [Float]
    /// Header flag `shared`: the parameters are in this slot of the coordinator's region.
    public var shared: SharedSlot?
    /// Header flag `bf16`: the parameters travel as bfloat16 (`BFloat16Codec`); the buffers
    /// stay float32. Ignored with `shared`.
    public var bf16: Bool

    public init(runID: UInt64, step: UInt64, weightsVersion: UInt64, parameters: [Float], buffers: [Float],
                shared: SharedSlot? = nil, bf16: Bool = false) {
        self.shared = shared
        self.bf16 = bf16
        self.runID = runID
        self.step = step
        self.weightsVersion = weightsVersion
        self.parameters = parameters
        self.buffers = buffers
    }
}

/// Either direction: the sender is alive; it is at `step` with weights `weightsVersion`.
public struct Heartbeat: Equatable, Sendable {
    public var runID: UInt64
    public var step: UInt64
    public var weightsVersion: UInt64

    public init(runID: UInt64, step: UInt64, weightsVersion: UInt64) {
        self.runID = runID
        self.step = step
        self.weightsVersion = weightsVersion
    }
}

/// Coordinator → worker: evaluation-mode logits of chunk `chunk` of an evaluation with the
/// weights of version `weightsVersion` (header: first micro-shard = chunk, count 1). The
/// images always travel with the request, so any worker can take any split.
public struct EvaluationRequest: Equatable, Sendable {
    public var runID: UInt64
    public var weightsVersion: UInt64
    public var chunk: UInt32
    /// Header flag `tta`: average the config's test-time views.
    public var tta: Bool
    /// Dataset indices of the samples (u64 on the wire, each below 2^63).
    public var sampleIndices: [Int]
    /// The samples' images, uint8 [N, H, W, C], in the order of `sampleIndices`.
    public var images: [UInt8]

    public init(runID: UInt64, weightsVersion: UInt64, chunk: UInt32, tta: Bool, sampleIndices: [Int], images: [UInt8]) {
        self.runID = runID
        self.weightsVersion = weightsVersion
        self.chunk = chunk
        self.tta = tta
        self.sampleIndices = sampleIndices
        self.images = images
    }
}

/// Worker → coordinator: the logits of every head for the samples of evaluation chunk
/// `chunk`, float32, (n, K_h) row-major one head after the other.
public struct EvaluationReply: Equatable, Sendable {
    public var runID: UInt64
    public var weightsVersion: UInt64
    public var chunk: UInt32
    public var logits: [Float]

    public init(runID: UInt64, weightsVersion: UInt64, chunk: UInt32, logits: [Float]) {
        self.runID = runID
        self.weightsVersion = weightsVersion
        self.chunk = chunk
        self.logits = logits
    }
}
