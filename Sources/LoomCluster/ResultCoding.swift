// Conversions between a step's `ShardResult` and the wire's `BlockResult`:
//   gradients -> gradient_sum (float32 [P]), batchStatistics -> batch_norm_statistics
//   (float32 [S]), headSums -> metric_sums (float64 [heads × HeadSums.width]),
//   shardCount -> sample_counts (u64 [1]: micro-shards summed).

import LoomTraining
import LoomWire

extension ShardResult {
    /// This result on the wire, for `assignment`'s step and the block `[first, first+count)`.
    /// With `bf16` the gradient sum travels as bfloat16 (it is a bf16 value already: the
    /// reduction tree rounds every node in a bf16 run).
    func wire(runID: UInt64, step: UInt64, epoch: UInt32, weightsVersion: UInt64,
              firstShard: UInt32, shardCount: UInt32, bf16: Bool = false) -> BlockResult {
        BlockResult(runID: runID, step: step, epoch: epoch, weightsVersion: weightsVersion,
                             firstShard: firstShard, shardCount: shardCount, gradientSum: gradients,
                             batchNormStatistics: batchStatistics, metricSums: headSums,
                             sampleCounts: [UInt64(self.shardCount)], bf16: bf16)
    }

    /// A received result, checked against the shapes of this run's model; nil (with the
    /// rule broken in `why`) when it does not fit.
    static func fromWire(_ r: BlockResult, parameterCount: Int, bufferCount: Int,
                         headCount: Int, why: inout String) -> ShardResult? {
        guard r.gradientSum.count == parameterCount else {
            why = "gradient_sum has \(r.gradientSum.count) values, the model has \(parameterCount) parameters"; return nil
        }
        var result = fromWireWithoutGradients(r, bufferCount: bufferCount, headCount: headCount, why: &why)
        result?.gradients = r.gradientSum
        return result
    }

    /// Everything of a received result but its gradient sum (left empty), checked as
    /// `fromWire` checks it: for a result whose gradient sum lies in shared memory.
    static func fromWireWithoutGradients(_ r: BlockResult, bufferCount: Int, headCount: Int,
                                   why: inout String) -> ShardResult? {
        guard r.batchNormStatistics.count == bufferCount else {
            why = "batch_norm_statistics has \(r.batchNormStatistics.count) values, expected \(bufferCount)"; return nil
        }
        guard r.metricSums.count == headCount * HeadSums.width else {
            why = "metric_sums has \(r.metricSums.count) values, expected \(headCount * HeadSums.width)"; return nil
        }
        guard r.sampleCounts.count == 1, r.sampleCounts[0] == UInt64(r.shardCount) else {
            why = "sample_counts \(r.sampleCounts) does not state the \(r.shardCount) micro-shards of the block"; return nil
        }
        return ShardResult(gradients: [], batchStatistics: r.batchNormStatistics,
                                        headSums: r.metricSums, shardCount: Int(r.shardCount))
    }
}
