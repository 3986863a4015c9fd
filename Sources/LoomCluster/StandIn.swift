// The compute stand-in of `loom worker --stand-in-ms MS` (docs/SCALING.md, "The compute
// stand-in"): a worker that holds each micro-shard for MS milliseconds instead of computing
// it, and answers with a deterministic result of the real size. Everything else is real:
// the weights and the gradient cross the links, the coordinator reduces the results in the
// tree's order, applies the optimizer and writes checkpoints. It lets one machine measure
// what eight hosts' communication and coordination cost when eight hosts' compute cannot
// run on its cores.
//
// The gradient of micro-shard s at step t, element i, is
//     g(t, s, i) = ((7t + 3s + i) mod 17 − 8) · 2⁻¹²
// small multiples of 2⁻¹², so any sum of up to 2¹⁶ micro-shards is exact in float32 and a
// block's sum is known in closed form: whoever sums in whatever order gets the same bits,
// and a test can check them. Element i's value depends on i only through i mod 17, so a
// block's sum is a 17-value pattern repeated over P elements (cheap even for 47 MB).

import LoomTraining

public enum StandIn {
    /// Value unit of the stand-in gradient (2⁻¹²).
    public static let unit: Float = 1.0 / 4096

    /// Sum over the micro-shards of `block` at `step` of the stand-in gradient, element `i`.
    public static func gradient(step: Int, block: ShardBlock, element i: Int) -> Float {
        var sum = 0
        for s in block.range { sum += (7 * step + 3 * s + i) % 17 - 8 }
        return Float(sum) * unit
    }

    /// The stand-in result of `block` at `step` for a model of `parameterCount` parameters
    /// whose batch-norm buffers are `buffers` (the running statistics are reported as the
    /// block's batch statistics, so they stay where they are) and `heads` heads (each
    /// micro-shard of `microBatch` samples counts as labelled, with loss ln 10 per sample).
    public static func result(step: Int, block: ShardBlock, parameterCount: Int, buffers: [Float],
                              heads: Int, microBatch: Int) -> ShardResult {
        let pattern = (0..<17).map { gradient(step: step, block: block, element: $0) }
        var gradients = [Float](repeating: 0, count: parameterCount)
        gradients.withUnsafeMutableBufferPointer { g in
            var i = 0
            while i < g.count {
                let n = min(17, g.count - i)
                for k in 0..<n { g[i + k] = pattern[k] }
                i += n
            }
        }
        let count = Float(block.count)
        var sums = [Double](repeating: 0, count: heads * HeadSums.width)
        let samples = Double(block.count * microBatch)
        for h in 0..<heads {
            sums[h * HeadSums.width + HeadSums.Field.loss.rawValue] = samples * 2.302585092994046
            sums[h * HeadSums.width + HeadSums.Field.normalizer.rawValue] = samples
            sums[h * HeadSums.width + HeadSums.Field.correct.rawValue] = samples / 10
            sums[h * HeadSums.width + HeadSums.Field.labelled.rawValue] = samples
        }
        return ShardResult(gradients: gradients, batchStatistics: buffers.map { $0 * count }, headSums: sums,
                           shardCount: block.count)
    }
}
