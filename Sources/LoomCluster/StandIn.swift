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

import LoomConfig
import LoomKernels
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
    /// With `wire` bf16 the gradients are rounded to bf16 (`ShardResult.roundGradients`).
    ///
    /// The stand-in's own CPU is not the communication's: on the bed it shares the cores
    /// with eight hosts' sockets, where a real host's backward pass would run on its own. So
    /// the 17 values are rounded once and the array filled by doubling copies, not element
    /// by element (a pass over P values per rounding and per fill, 0.5 ms a step for the
    /// reference CNN, made it 7% of the bed's CPU at 8 hosts).
    public static func result(step: Int, block: ShardBlock, parameterCount: Int, buffers: [Float],
                              heads: Int, microBatch: Int, wire: WireFormat = .fp32) -> ShardResult {
        var pattern = (0..<17).map { gradient(step: step, block: block, element: $0) }
        // Rounding is elementwise: the rounded pattern repeated is the repeated pattern rounded.
        if wire == .bf16 { BFloat16.round(&pattern) }
        let gradients = [Float](unsafeUninitializedCapacity: parameterCount) { g, initialized in
            for k in 0..<min(17, parameterCount) { g[k] = pattern[k] }
            var filled = min(17, parameterCount)
            while filled < parameterCount {
                let n = min(filled, parameterCount - filled)
                (g.baseAddress! + filled).update(from: g.baseAddress!, count: n)
                filled += n
            }
            initialized = parameterCount
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
