// What a micro-shard (or a pre-reduced block of them) contributes to a step. Results are
// added in `ReductionTree` order only; `add` is plain elementwise `self += other`.

import LoomConfig
import LoomKernels

/// Per-head sums a step reports, in a fixed order (see `HeadSums.Field`).
public enum HeadSums {
    /// Fields per head in `ShardResult.headSums`.
    public enum Field: Int, CaseIterable {
        case loss = 0, normalizer, correct, labelled
    }
    public static let width = Field.allCases.count
}

public struct ShardResult: Equatable, Sendable {
    /// Gradient of the step's total loss restricted to these samples (parameters layout).
    public var gradients: [Float]
    /// Sum over the micro-shards of each BN layer's batch mean and unbiased variance
    /// (buffers layout). Divided by the step's micro-shard count before use.
    public var batchStatistics: [Float]
    /// Per head: loss sum, normaliser, correct predictions, labelled rows (`HeadSums`);
    /// multilabel heads count labelled elements and elements on the right side of 0.5.
    public var headSums: [Double]
    /// Micro-shards summed into this result.
    public var shardCount: Int

    public init(parameterCount: Int, bufferCount: Int, headCount: Int) {
        gradients = [Float](repeating: 0, count: parameterCount)
        batchStatistics = [Float](repeating: 0, count: bufferCount)
        headSums = [Double](repeating: 0, count: headCount * HeadSums.width)
        shardCount = 0
    }

    public init(gradients: [Float], batchStatistics: [Float], headSums: [Double], shardCount: Int) {
        self.gradients = gradients; self.batchStatistics = batchStatistics
        self.headSums = headSums; self.shardCount = shardCount
    }

    /// self += other, elementwise (the one combining rule of the reduction tree).
    public mutating func add(_ other: ShardResult) {
        precondition(gradients.count == other.gradients.count, "adding results of different shapes")
        // The coordinator sums gradients left in shared memory with the same kernel, so both
        // ways of reducing a step give the same bits.
        gradients.withUnsafeMutableBufferPointer { g in
            other.gradients.withUnsafeBufferPointer { o in
                if let out = g.baseAddress, let b = o.baseAddress { _ = elementwiseSum(out, b, into: out, count: g.count) }
            }
        }
        addStatistics(other)
    }

    /// The reduction tree's combining rule in a run whose wire format is `wire`: self +=
    /// other, and with bf16 the gradient sum rounded to bf16 (ties to even). Every node of
    /// the tree is then a bf16 value, whichever node a worker sends, so the bits do not
    /// depend on who summed which part (docs/CLUSTER.md, "bf16 on the wire").
    public mutating func combine(_ other: ShardResult, wire: WireFormat) {
        add(other)
        roundGradients(for: wire)
    }

    /// With bf16, each gradient rounded to bf16 (a leaf: one micro-shard's gradient as
    /// computed); nothing with fp32.
    public mutating func roundGradients(for wire: WireFormat) {
        if wire == .bf16 { BFloat16.round(&gradients) }
    }

    /// self += other for everything but the gradients: batch statistics, head sums and the
    /// micro-shard count (for a combiner that sums the gradients on its own).
    public mutating func addStatistics(_ other: ShardResult) {
        precondition(batchStatistics.count == other.batchStatistics.count && headSums.count == other.headSums.count,
                     "adding results of different shapes")
        for i in 0..<batchStatistics.count { batchStatistics[i] += other.batchStatistics[i] }
        for i in 0..<headSums.count { headSums[i] += other.headSums[i] }
        shardCount += other.shardCount
    }

    /// Whether every gradient and statistic is finite (a NaN must never reach the weights).
    public var isFinite: Bool {
        firstNonFinite(gradients) == nil && firstNonFinite(batchStatistics) == nil
    }

    public func sum(head: Int, _ field: HeadSums.Field) -> Double {
        headSums[head * HeadSums.width + field.rawValue]
    }
}
