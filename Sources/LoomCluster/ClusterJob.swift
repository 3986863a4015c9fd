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
    /// When it was given to `owner`, and the units of work `owner` then held with it (this
    /// piece and those before it, not yet back): what its deadline is counted from.
    var givenAt: ContinuousClock.Instant?
    var heldUnits = 0
    /// The worker whose result for it was taken (nil until done, or computed here).
    var doneBy: PeerID?
    /// Its largest gradient magnitude per micro-shard, once checked against the bound
    /// (recorded into the history when the step is taken).
    var magnitude: Float?
}

/// One more computation of an audited piece: the second (by another worker with the same
/// kernels), or the third that decides between two that differ.
struct AuditCopy {
    enum Stage: CustomStringConvertible {
        case second, third
        var description: String { self == .second ? "second" : "third" }
    }

    var owner: PeerID?
    var givenTo: Set<PeerID> = []
    var givenAt: ContinuousClock.Instant?
    var heldUnits = 0
    var result: ShardResult?
    /// Who computed `result` (nil with `local`: the coordinator did).
    var by: PeerID?
    var local = false
    /// Workers that may not compute this copy (they computed another copy of the block).
    var avoid: Set<PeerID> = []

    var isOpen: Bool { owner == nil && result == nil }
}

/// The audit of one piece: its second computation and, when the two differ, a third.
struct PieceAudit {
    /// Why it is audited: the keyed draw, or the bound check.
    var reason: String
    /// Drawn with its step (every block of the step is audited): its second computation
    /// goes to a worker that has delivered the rest of the step, the next one in the ring.
    var wholeStep = false
    var second = AuditCopy()
    var third: AuditCopy?
    /// The two (or three) agreed, or the culprit is out and the good result taken.
    var settled = false
    /// "Waiting for a third worker" was logged.
    var waitLogged = false

    var isIn: Bool { second.result != nil && (third == nil || third!.result != nil) }
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
    /// Audited pieces, by `block.start` (`cluster.audit`, and blocks out of bounds).
    var audits: [Int: PieceAudit] = [:]
    /// Workers that missed this job's deadline: they get no more of it.
    var demoted: Set<PeerID> = []
    /// Workers whose results disagreed with another's, until a third computation decides.
    var quarantined: Set<PeerID> = []
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
    /// Every piece and every audit copy is in (the audits may still have to be compared).
    var isComplete: Bool { isCut && pieces.values.allSatisfy(\.done) && audits.values.allSatisfy(\.isIn) }

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
    /// Audit copies a peer holds count as its own micro-shards.
    func cost(of peer: PeerID, slots: Int, adding extra: Int) -> Double {
        guard case .train = kind else { return Double(load(of: peer)) }
        return Double(units(of: peer) + extra) / Double(max(slots, 1))
    }

    /// Whether `peer` may be given more of this job (not demoted, not quarantined).
    func mayWork(_ peer: PeerID) -> Bool { !demoted.contains(peer) && !quarantined.contains(peer) }

    /// Workers holding or having computed an audit copy of piece `key`.
    func auditHolders(_ key: Int) -> Set<PeerID> {
        guard let audit = audits[key] else { return [] }
        return Set([audit.second.owner, audit.second.by, audit.third?.owner, audit.third?.by].compactMap { $0 })
    }

    func copy(_ key: Int, _ stage: AuditCopy.Stage) -> AuditCopy? {
        stage == .second ? audits[key]?.second : audits[key]?.third
    }

    func setCopy(_ key: Int, _ stage: AuditCopy.Stage, _ change: (inout AuditCopy) -> Void) {
        switch stage {
        case .second: if audits[key] != nil { change(&audits[key]!.second) }
        case .third: if audits[key]?.third != nil { change(&audits[key]!.third!) }
        }
    }

    /// The audit copy of piece `key` a result from `peer` is for, or nil when it is for the
    /// piece itself (or for nothing): the copy `peer` computes now first, then the piece
    /// if it was given to `peer` and is not in, then a copy `peer` was given earlier.
    func copyStage(_ key: Int, from peer: PeerID) -> AuditCopy.Stage? {
        guard let audit = audits[key] else { return nil }
        let stages: [(AuditCopy.Stage, AuditCopy?)] = [(.second, audit.second), (.third, audit.third)]
        for (stage, copy) in stages where copy?.owner == peer && copy?.result == nil { return stage }
        if let piece = pieces[key], piece.givenTo.contains(peer), !piece.done { return nil }
        for (stage, copy) in stages where copy?.givenTo.contains(peer) == true && copy?.result == nil { return stage }
        return nil
    }

    /// Pieces not done and owned by nobody, in leaf order.
    var unowned: [Int] { pieces.keys.filter { pieces[$0]!.owner == nil && !pieces[$0]!.done }.sorted() }

    /// Pieces and audit copies `peer` still has to deliver.
    func load(of peer: PeerID) -> Int { units(of: peer, weighted: false) }

    /// Units of work `peer` still has to deliver (micro-shards of a step, samples of an
    /// evaluation), or with `weighted` false the pieces and copies.
    func units(of peer: PeerID, weighted: Bool = true) -> Int {
        var n = 0
        for (key, piece) in pieces where piece.owner == peer && !piece.done { n += weighted ? units(key) : 1 }
        for (key, audit) in audits {
            for copy in [audit.second, audit.third].compactMap({ $0 }) where copy.owner == peer && copy.result == nil {
                n += weighted ? units(key) : 1
            }
        }
        return n
    }

    /// The units of work of piece `key`: its micro-shards, or its evaluation samples.
    func units(_ key: Int) -> Int {
        switch kind {
        case .train: pieces[key]?.block.count ?? 0
        case .evaluate: evaluationSamples(key).count
        }
    }

    /// Takes every unfinished piece and audit copy away from `peer`; returns how many.
    func release(_ peer: PeerID) -> Int {
        var n = 0
        for key in pieces.keys where pieces[key]!.owner == peer && !pieces[key]!.done {
            pieces[key]!.owner = nil
            n += 1
        }
        for key in audits.keys {
            if audits[key]!.second.owner == peer && audits[key]!.second.result == nil {
                audits[key]!.second.owner = nil
                n += 1
            }
            if audits[key]!.third?.owner == peer && audits[key]!.third?.result == nil {
                audits[key]!.third!.owner = nil
                n += 1
            }
        }
        return n
    }

    /// Takes back the training pieces `peer` delivered: they are to be computed again.
    /// With shard servers a result reaches the coordinator on another socket than the
    /// gradient reaches the servers, so a worker killed just after sending both may have
    /// left a server without its part (docs/PROTOCOL.md, "A worker lost after its result").
    /// Returns the blocks taken back, in leaf order.
    func reopen(deliveredBy peer: PeerID) -> [ShardBlock] {
        guard case .train = kind else { return [] }
        var blocks: [ShardBlock] = []
        for key in pieces.keys.sorted() where pieces[key]!.done && pieces[key]!.doneBy == peer {
            pieces[key]!.done = false
            pieces[key]!.doneBy = nil
            pieces[key]!.owner = nil
            pieces[key]!.magnitude = nil
            trainResults[pieces[key]!.block] = nil
            pendingShared[key] = nil
            blocks.append(pieces[key]!.block)
        }
        return blocks
    }

    /// Sample indices of evaluation chunk `c`.
    func evaluationSamples(_ c: Int) -> ArraySlice<Int> {
        guard case .evaluate(_, let indices, let chunk, _) = kind else { return [] }
        return indices[(c * chunk)..<min(indices.count, (c + 1) * chunk)]
    }
}
