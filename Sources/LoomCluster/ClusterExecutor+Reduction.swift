// The end of a training step on the coordinator: its pieces' results reduced in the fixed
// tree order (ARCHITECTURE.md, invariant 1), the gradient sums that workers of this machine left in
// shared memory summed where they lie.
//
// Copying each such gradient out first, checking it, then adding the copies passes over
// every byte three times; reading the slots where they lie and writing the sums to a new
// buffer, checking them on the way, passes once. The slots are sequence locks
// (`SharedRegion`): each must hold its tag before and after the sum. When one does not, or a
// sum is not finite, nothing of the job has changed and the step falls back to copying each
// gradient out and checking it on its own: that finds an overwritten slot or a non-finite
// gradient, rejects it and has its block computed again. Finite gradients whose sum
// overflows have no culprit: the fallback then returns that sum, and the step's own check
// (`TrainingState.apply`) refuses it, as without shared memory.

import LoomConfig
import LoomKernels
import LoomTraining
import LoomWire

extension ClusterExecutor {
    /// Completes `job` once every piece is in: a training step's results go into
    /// `job.reduced` (not finite if finite gradients overflowed). False when a gradient left
    /// in shared memory was bad: its piece is out again for a worker to compute.
    func finish(_ job: ClusterJob) -> Bool {
        guard case .train(let plan) = job.kind else { return readPendingShared(job) }
        let root = ShardBlock(start: 0, count: plan.shardCount)
        if let sum = sumWhereTheyLie(job, root: root) {
            job.reduced = sum
            statistics.sharedGradientsSummedInPlace += 1
            return true
        }
        guard readPendingShared(job) else { return false }
        let wire = problem.config.cluster.wire
        // Results are taken out of the job, not copied: the first `add` then writes into the
        // left result's own buffer instead of copying 4 bytes per parameter first.
        job.reduced = ReductionTree.reduce(root, value: { job.trainResults.removeValue(forKey: $0) },
                                           combine: { $0.combine($1, wire: wire) })
        return true
    }

    /// The reduction of `job` with its shared gradients read where they lie, or nil when it
    /// has none to add to anything (one piece), a slot does not hold its tag before or after,
    /// or a sum is not finite. Nothing in the job changes, so the caller can start over.
    private func sumWhereTheyLie(_ job: ClusterJob, root: ShardBlock) -> ShardResult? {
        guard !job.pendingShared.isEmpty, job.pieces.count > 1 else { return nil }
        let count = problem.model.parameters.count
        var leaves: [Int: Partial] = [:]
        for (key, pending) in job.pendingShared {
            guard let bytes = pending.region.payload(slot: Int(pending.slot.slot), tag: pending.slot.tag, byteCount: 4 * count),
                  let floats = bytes.bindMemory(to: Float.self).baseAddress else { return nil }
            leaves[key] = .shared(floats, pending.withoutGradients)
        }
        var finite = true
        let total = ReductionTree.reduce(root, value: { block -> Partial? in
            if let result = job.trainResults[block] { return .inMemory(result) }
            return job.pieces[block.start]?.block == block ? leaves[block.start] : nil
        }, combine: { left, right in
            finite = left.absorb(right, count: count, wire: problem.config.cluster.wire) && finite
        })
        for pending in job.pendingShared.values
        where !pending.region.stillHolds(slot: Int(pending.slot.slot), tag: pending.slot.tag) {
            return nil
        }
        // More than one piece: the root is a sum made here, never a result the job holds.
        guard finite, case .inMemory(let sum)? = total else { return nil }
        statistics.sharedGradientBytes += 4 * count * job.pendingShared.count
        job.pendingShared.removeAll()
        job.trainResults.removeAll()
        return sum
    }
}

/// A node's value while `sumWhereTheyLie` reduces: a result in memory (one the job holds, or
/// a sum made here), or a gradient sum in a worker's slot with the rest of its result.
private enum Partial {
    case inMemory(ShardResult)
    case shared(UnsafePointer<Float>, ShardResult)

    /// The result this stands for, without its gradients when they lie in a slot.
    private var result: ShardResult {
        switch self {
        case .inMemory(let r), .shared(_, let r): r
        }
    }

    private func withGradients<R>(_ body: (UnsafePointer<Float>) -> R) -> R {
        switch self {
        case .inMemory(let r): r.gradients.withUnsafeBufferPointer { body($0.baseAddress!) }
        case .shared(let slot, _): body(slot)
        }
    }

    /// self = self + right (left operand first), every gradient of `count`, into a new
    /// buffer: the operands stay as they were (the job's results must survive an abandoned
    /// sum). Returns whether every gradient sum is finite.
    /// With bf16 the sum is rounded to bf16, as `ShardResult.combine` rounds it.
    mutating func absorb(_ right: Partial, count: Int, wire: WireFormat) -> Bool {
        var finite = true
        var sum = result
        sum.gradients = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            withGradients { a in right.withGradients { b in finite = elementwiseSum(a, b, into: out.baseAddress!, count: count) } }
            initialized = count
        }
        sum.roundGradients(for: wire)
        sum.addStatistics(right.result)
        self = .inMemory(sum)
        return finite
    }
}
