// Overlap on the worker (docs/CLUSTER.md, "Overlap"): the block's summed gradient handed
// out range by range while the backward pass of its last micro-shard goes on, last layers
// first, so that it crosses the link while the earlier layers are still computed.
//
// A range of the block's sum is final once the last micro-shard's backward pass has passed
// it: the other micro-shards are done before. It is then summed along the block's
// reduction tree from the leaves' values in that range, with the same kernel and rounding
// as the whole sum (both are elementwise), so every range handed out is bitwise that range
// of the result returned at the end. With one micro-shard per block the whole backward
// pass overlaps; with c micro-shards, only the last one's (a c-th of the block's backward).

import LoomKernels

extension ShardComputer {
    /// `compute`, with `push(range, sum)` told each parameter range of the block's gradient
    /// sum as soon as it is final (ranges are disjoint and cover the parameters once).
    public func compute(_ work: ShardWork, data: ShardData, parameters: [Float], buffers: [Float],
                        afterEach: () -> Void = {},
                        push: @escaping (Range<Int>, [Float]) -> Void) throws(TrainingError) -> ShardResult {
        try check(work, data: data, parameters: parameters, buffers: buffers)
        let wire = problem.config.cluster.wire
        var leaves: [Int: ShardResult] = [:]
        for leaf in work.block.range.dropLast() {
            var result = try computeMicroShard(work, leaf: leaf, data: data, parameters: parameters, buffers: buffers)
            result.roundGradients(for: wire)
            leaves[leaf] = result
            afterEach()
        }
        let last = work.block.end - 1
        var result = try computeMicroShard(work, leaf: last, data: data, parameters: parameters, buffers: buffers,
                                           completed: { range, gradient in
            var own = Array(UnsafeBufferPointer(start: gradient + range.lowerBound, count: range.count))
            if wire == .bf16 { BFloat16.round(&own) }
            let sum = ReductionTree.reduce(work.block, value: { (b: ShardBlock) -> [Float]? in
                guard b.count == 1 else { return nil }
                return b.start == last ? own : Array(leaves[b.start]!.gradients[range])
            }, combine: { (left: inout [Float], right: [Float]) in
                left.withUnsafeMutableBufferPointer { l in
                    right.withUnsafeBufferPointer { r in
                        if let a = l.baseAddress, let b = r.baseAddress { _ = elementwiseSum(a, b, into: a, count: l.count) }
                    }
                }
                if wire == .bf16 { BFloat16.round(&left) }
            })
            push(range, sum ?? own)
        })
        result.roundGradients(for: wire)
        leaves[last] = result
        afterEach()
        let reduced = ReductionTree.reduce(work.block, value: { $0.count == 1 ? leaves[$0.start] : nil },
                                           combine: { $0.combine($1, wire: wire) })
        guard let reduced else { throw .workMismatch(block: work.block, step: work.step, "an empty block") }
        return reduced
    }
}
