// A step's work, fixed before anyone computes: which samples, cut into which micro-shards,
// with which loss scale per head. Everything here is a pure function of (config, seed,
// step), so a coordinator that restarts from a checkpoint plans the same step again.

/// One optimizer step's global batch, cut into `shardCount` micro-shards of `microBatch`.
public struct StepPlan: Equatable, Sendable {
    /// Global optimizer step (0-based): the step the weights of version `step` take.
    public var step: Int
    public var epoch: Int
    public var stepInEpoch: Int
    /// B global sample indices into the train split, in batch order.
    public var sampleIndices: [Int]
    public var microBatch: Int
    /// Per head: loss weight / loss normaliser over the whole global batch. A worker scales
    /// its dlogits by this, so the summed gradient is the gradient of the total mean loss.
    public var headScales: [Float]

    public init(step: Int, epoch: Int, stepInEpoch: Int, sampleIndices: [Int], microBatch: Int, headScales: [Float]) {
        self.step = step; self.epoch = epoch; self.stepInEpoch = stepInEpoch
        self.sampleIndices = sampleIndices; self.microBatch = microBatch; self.headScales = headScales
    }

    public var shardCount: Int { sampleIndices.count / microBatch }

    /// Sample indices of the micro-shards in `block`.
    public func samples(of block: ShardBlock) -> ArraySlice<Int> {
        sampleIndices[(block.start * microBatch)..<(block.end * microBatch)]
    }

    /// The work of the micro-shards in `block`, for whoever computes them.
    public func work(_ block: ShardBlock, seed: UInt64) -> ShardWork {
        ShardWork(step: step, epoch: epoch, seed: seed, block: block, microBatch: microBatch,
                  sampleIDs: Array(samples(of: block)), headScales: headScales)
    }
}

/// Everything needed to compute a block of micro-shards of one training step, and nothing
/// else: the coordinator cuts it from its `StepPlan` (`StepPlan.work`), a worker rebuilds it
/// from an assignment, and both the local executor and the worker compute it with
/// `ShardComputer.compute(_:data:parameters:buffers:)`. The result of micro-shard i is a
/// function of this, the weights and the samples' data only.
public struct ShardWork: Equatable, Sendable {
    public var step: Int
    public var epoch: Int
    /// `training.seed`: keys augmentation and dropout with (epoch or step, sample).
    public var seed: UInt64
    /// The micro-shards, by global index in the step.
    public var block: ShardBlock
    public var microBatch: Int
    /// Dataset indices (train split) of the block's samples, `block.count × microBatch`, in
    /// micro-shard order.
    public var sampleIDs: [Int]
    /// Per head: loss weight / loss normaliser over the step's whole global batch.
    public var headScales: [Float]

    public init(step: Int, epoch: Int, seed: UInt64, block: ShardBlock, microBatch: Int, sampleIDs: [Int],
                headScales: [Float]) {
        self.step = step; self.epoch = epoch; self.seed = seed; self.block = block
        self.microBatch = microBatch; self.sampleIDs = sampleIDs; self.headScales = headScales
    }

    /// Sample indices of micro-shard `leaf` (a global micro-shard index inside `block`).
    public func samples(ofLeaf leaf: Int) -> ArraySlice<Int> {
        let offset = (leaf - block.start) * microBatch
        return sampleIDs[offset..<(offset + microBatch)]
    }
}
