// The compute stand-in with overlap (`loom worker --stand-in-ms MS`, `cluster.overlap`;
// docs/SCALING.md, "The compute stand-in"): it holds a block as the real worker computes
// it, and pushes the gradient as the real backward pass would make it.
//
// A micro-shard's MS is split as a training step's compute is: a third for the forward
// pass, two thirds for the backward pass (the backward pass computes two products per
// forward product: the input's gradient and the weights'). The backward third is spread
// over the layers in proportion to their forward FLOPs (`Model.backwardSpans`, last layer
// first); when a layer's share has passed, its range of the block's gradient goes to the
// servers. Only the block's last micro-shard overlaps (the others are done before it), so
// a block of c micro-shards holds (c − 1)·MS + MS/3 before its first push.

import Foundation
import LoomKernels
import LoomTraining
import LoomWire

extension WorkerSession {
    /// The stand-in of `work`, pushing its gradient by layers; whether every range went out.
    func standInOverlapped(_ work: ShardWork, holding hold: Double, run: Run,
                           assignment a: Assignment) -> (ShardResult, pushed: Bool) {
        let started = ContinuousClock.now
        let longest = run.slotComputer.subBlocks(of: work.block).map(\.count).max() ?? 1
        let problem = run.computer.problem
        let sum = StandIn.result(step: work.step, block: work.block, parameterCount: problem.model.parameters.count,
                                 buffers: run.standInBuffers, heads: problem.losses.count, microBatch: work.microBatch,
                                 wire: problem.config.cluster.wire)
        let microShard = Duration.microseconds(Int64(hold * 1000))
        let spans = problem.model.backwardSpans
        let flops = Double(spans.reduce(0) { $0 + $1.flops })
        var at = started + microShard * (longest - 1) + microShard / 3
        holdUntil(at)
        var pushed = ElementRanges()
        var pushing = true
        // Small ranges go with the next one, as the real worker sends them (`FusedPushes`).
        var fused = FusedPushes(buckets: layout?.buckets ?? [], order: problem.model.backwardSpans.map { ($0.parameters, $0.flops) })
        let bf16 = problem.config.cluster.wire == .bf16
        // Each range checked as it goes out, as the real worker checks it (`send` then does
        // not scan the gradient again): one that is not finite is not pushed.
        let push = { (range: Range<Int>) in
            sum.gradients.withUnsafeBufferPointer {
                let part = UnsafeBufferPointer(rebasing: $0[range])
                return firstNonFinite(part) == nil && self.pushRange(range, part, for: a, runID: run.runID, bf16: bf16)
            }
        }
        for span in spans {
            let share = flops > 0 ? Double(span.flops) / flops : 1 / Double(max(spans.count, 1))
            at += microShard * (2.0 / 3.0 * share)
            holdUntil(at)
            guard pushing, !span.parameters.isEmpty else { continue }
            pushing = fused.add(span.parameters, push: push)
            pushed.insert(span.parameters)
        }
        if pushing { pushing = fused.finish(push: push) }
        // Parameters no layer reported (none in today's layers) go last.
        for range in ElementRanges(0..<sum.gradients.count).subtracting(pushed).ranges where pushing {
            pushing = push(range)
        }
        holdUntil(started + microShard * longest)
        return (sum, pushing)
    }

    /// Waits until `instant`, heartbeating.
    private func holdUntil(_ instant: ContinuousClock.Instant) {
        while ContinuousClock.now < instant {
            beatIfDue()
            let left = instant - ContinuousClock.now
            if left > .zero { Thread.sleep(forTimeInterval: min(0.02, Double(left.components.attoseconds) * 1e-18 + Double(left.components.seconds))) }
        }
    }
}
