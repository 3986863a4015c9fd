// The work of one step (or one evaluation) as the coordinator tracks it: pieces, who owns
// each, which are done.

import LoomTraining
import LoomWire

/// One unit of work handed to one worker: a reduction-tree node of a training step, or a
/// chunk of evaluation samples (then `block.start` is the chunk index, `block.count` 1).
struct Piece {
    var block: ShardBlock
    /// The worker computing it now (nil: waiting for a live worker).
    var owner: PeerID?
    /// Every worker it was ever given to: a late result from any of them is as good.
    var givenTo: Set<PeerID> = []
    var done = false
    /// Workers whose result for it held NaN or Inf. Results are deterministic, so a second
    /// worker computing the same gives the same; until one has, the piece goes to another
    /// worker rather than back to this one.
    var nonFiniteFrom: Set<PeerID> = []
}

/// A result that arrived naming a slot of its worker's results region for its gradient
/// sum; the region is kept here, as a worker declared dead meanwhile loses its record's.
struct PendingShared {
    /// Everything else the result carried, checked; `gradients` is empty.
    var withoutGradients: ShardResult
    var slot: SharedSlot
    var region: SharedRegion
    var worker: WorkerRecord
}

/// A step or an evaluation in progress.
final class ClusterJob {
    enum Kind {
        /// Training step `plan`.
        case train(plan: StepPlan)
        /// Evaluation-mode logits of `indices` of `split`, in chunks of `chunk` samples.
        case evaluate(split: String, indices: [Int], chunk: Int, tta: Bool)
    }

    let kind: Kind
    let step: UInt64
    /// The training step's epoch (0 for an evaluation, whose messages carry none).
    let epoch: UInt32
    let weightsVersion: UInt64
    /// Pieces by `block.start`; empty until a worker is live (training cuts them for the
    /// workers there are when it starts).
    var pieces: [Int: Piece] = [:]
    var trainResults: [ShardBlock: ShardResult] = [:]
    /// Training results whose gradient sum is still in the worker's shared results region,
    /// by `block.start`; their pieces count as done. They are summed where they lie once
    /// every piece is in, or copied out before their worker gets another piece of this job
    /// (which may overwrite the slot): touching megabytes on arrival would run on a core a
    /// slower worker of this machine is computing on, and evict its caches.
    var pendingShared: [Int: PendingShared] = [:]
    /// Why the step diverged, once a piece's NaN or Inf is confirmed (by a second worker, or
    /// by the only one there is): the coordinator then stops the run as `--workers 0` does.
    var divergence: String?
    /// A training step's results reduced, once every piece is in (`ClusterExecutor.finish`).
    var reduced: ShardResult?
    var logits: [Int: [Float]] = [:]
    /// When the first and the last piece came in (for the step-time breakdown).
    var firstResultAt: ContinuousClock.Instant?
    var lastResultAt: ContinuousClock.Instant?

    init(kind: Kind, weightsVersion: Int) {
        self.kind = kind
        self.weightsVersion = UInt64(weightsVersion)
        switch kind {
        case .train(let plan):
            step = UInt64(plan.step)
            epoch = UInt32(clamping: plan.epoch)
        case .evaluate:
            step = UInt64(weightsVersion)
            epoch = 0
        }
    }

    var isCut: Bool { !pieces.isEmpty }
    var isComplete: Bool { isCut && pieces.values.allSatisfy(\.done) }

    /// Cuts the job into pieces for `workers` live workers.
    func cut(workers: Int) {
        switch kind {
        case .train(let plan):
            for block in ReductionTree.blocks(leafCount: plan.shardCount, parts: max(workers, 1)) {
                pieces[block.start] = Piece(block: block)
            }
        case .evaluate(_, let indices, let chunk, _):
            let chunks = (indices.count + chunk - 1) / chunk
            for c in 0..<max(chunks, 0) { pieces[c] = Piece(block: ShardBlock(start: c, count: 1)) }
        }
    }

    /// Cuts a training step into pieces for live workers of these compute slots (their
    /// hellos' `cores`): a worker with N slots can take a block N times as large and
    /// pre-reduce it (`ReductionTree.blocks(leafCount:weights:)`). An evaluation is cut in
    /// chunks as by `cut(workers:)`.
    func cut(slots: [Int]) {
        guard case .train(let plan) = kind, slots.contains(where: { $0 > 1 }) else {
            cut(workers: slots.count); return
        }
        for block in ReductionTree.blocks(leafCount: plan.shardCount, weights: slots.map { max($0, 1) }) {
            pieces[block.start] = Piece(block: block)
        }
    }

    /// How busy `peer` would be with `extra` more micro-shards: its undelivered micro-shards
    /// per compute slot. A piece goes to the worker for which this is least. Evaluation
    /// chunks are computed on one thread, so there every worker counts as one slot.
    func cost(of peer: PeerID, slots: Int, adding extra: Int) -> Double {
        let leaves = pieces.values.reduce(0) { $0 + ($1.owner == peer && !$1.done ? $1.block.count : 0) }
        guard case .train = kind else { return Double(leaves + extra) }
        return Double(leaves + extra) / Double(max(slots, 1))
    }

    /// Pieces not done and owned by nobody, in leaf order.
    var unowned: [Int] { pieces.keys.filter { pieces[$0]!.owner == nil && !pieces[$0]!.done }.sorted() }

    /// Pieces `peer` still has to deliver.
    func load(of peer: PeerID) -> Int { pieces.values.reduce(0) { $0 + ($1.owner == peer && !$1.done ? 1 : 0) } }

    /// Takes every unfinished piece away from `peer`; returns how many.
    func release(_ peer: PeerID) -> Int {
        var n = 0
        for key in pieces.keys where pieces[key]!.owner == peer && !pieces[key]!.done {
            pieces[key]!.owner = nil
            n += 1
        }
        return n
    }

    /// Sample indices of evaluation chunk `c`.
    func evaluationSamples(_ c: Int) -> ArraySlice<Int> {
        guard case .evaluate(_, let indices, let chunk, _) = kind else { return [] }
        return indices[(c * chunk)..<min(indices.count, (c + 1) * chunk)]
    }
}
