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
}
