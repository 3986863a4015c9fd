// The audit on the coordinator (`GradientAudit`; docs/CLUSTER.md, "Audited gradients"):
// which blocks of a step are computed twice, who computes the copies, and what happens when
// two results of one block differ. Nothing of a step reaches the weights before every one of
// its audits has agreed or named its culprit.

import LoomKernels
import LoomTraining
import LoomWire

extension ClusterExecutor {
    /// Draws whether a freshly cut training step is audited; if it is, every block of it is.
    /// With fewer than two workers there is nobody to compare with: the blocks are counted as
    /// skipped.
    func planAudits(_ job: ClusterJob) {
        guard case .train = job.kind, options.audit > 0,
              GradientAudit.isStepAudited(key: auditKey, step: Int(job.step), rate: options.audit) else { return }
        statistics.stepsAudited += 1
        guard workers.count >= 2 else {
            statistics.auditsSkipped += job.pieces.count
            return
        }
        for key in job.pieces.keys {
            job.audits[key] = PieceAudit(reason: "drawn (cluster.audit \(options.audit))", wholeStep: true)
        }
    }

    /// The audit copies of `job` to hand out now, each to a worker of `candidates` that did
    /// not compute the block yet and computes the same bits as the worker that did. A copy
    /// no worker can take is computed here when this process has those kernels (the third,
    /// and the second of a block out of bounds), left waiting (a third, when this process
    /// cannot), or dropped (a second drawn by the audit: the block is then not audited).
    /// The second copies of a step audited whole wait for a worker with nothing else of the
    /// step to deliver (`placeRingCopies`).
    func placeAuditCopies(_ job: ClusterJob, candidates: [WorkerRecord], state: TrainingState)
        throws(TrainingError) -> [(key: Int, stage: AuditCopy.Stage, worker: WorkerRecord)] {
        var placed: [(key: Int, stage: AuditCopy.Stage, worker: WorkerRecord)] = []
        var ring: [(key: Int, eligible: [WorkerRecord])] = []
        for key in job.audits.keys.sorted() where !job.audits[key]!.settled {
            let piece = job.pieces[key]!
            // The second computation waits until the first has a worker: it must be another.
            guard let first = piece.owner ?? piece.doneBy else { continue }
            let kernels = workers[first]?.hello.kernels ?? runKernels
            for stage in [AuditCopy.Stage.second, .third] {
                guard let copy = job.copy(key, stage), copy.isOpen else { continue }
                let avoid = copy.avoid.union([first]).union(job.auditHolders(key))
                let eligible = candidates.filter { worker in
                    !avoid.contains(worker.peer) && kernels.map { worker.hello.kernels.computesSameBits(as: $0) } ?? true
                }
                if stage == .second && job.audits[key]!.wholeStep && !eligible.isEmpty {
                    ring.append((key, eligible))
                    continue
                }
                if let worker = eligible.min(by: { job.load(of: $0.peer) < job.load(of: $1.peer) }) {
                    placed.append((key, stage, worker))
                    // Claimed now, so the next copy of this pass sees its load.
                    job.setCopy(key, stage) { $0.owner = worker.peer }
                    continue
                }
                let mustDecide = stage == .third || job.audits[key]!.reason.hasPrefix("bound")
                if mustDecide, canComputeHere(like: kernels) {
                    let value = try computeHere(job, key: key, state: state)
                    job.setCopy(key, stage) { $0.result = value; $0.local = true }
                    logger.notice("step \(job.step): block \(piece.block) computed by the coordinator for its audit (\(stage) computation): no other worker with the kernels \(kernels.map { "\($0)" } ?? "of the run") can")
                } else if stage == .second {
                    job.audits[key] = nil
                    statistics.auditsSkipped += 1
                    if mustDecide {
                        logger.warning("step \(job.step): block \(piece.block) is out of bounds but no other worker with the same kernels can compute it, nor can this coordinator (kernels \(KernelIdentity.current)): taken unchecked")
                    }
                    break
                } else if !(job.audits[key]!.waitLogged) {
                    job.audits[key]!.waitLogged = true
                    logger.warning("step \(job.step): the audit of block \(piece.block) needs a third worker with the kernels \(kernels.map { "\($0)" } ?? "of the run") (this coordinator computes with \(KernelIdentity.current)): waiting for one; start one with `loom worker --connect <endpoint>`")
                }
            }
        }
        for (key, worker) in placeRingCopies(job, ring) {
            placed.append((key, .second, worker))
            job.setCopy(key, .second) { $0.owner = worker.peer }
        }
        return placed
    }

    /// Second computations of a step audited whole, among the `eligible` workers of each,
    /// given only to workers that hold nothing else of the step: a worker has delivered its
    /// own blocks before it learns that the step is audited, and every worker computes one
    /// more block after its own, so that the step takes about one block longer on each (not
    /// one block longer on one while the others wait). First each idle worker takes the copy
    /// the ring gives it, that of the block before its own in leaf order (the next piece's
    /// worker computes a piece's copy); then an idle worker whose ring copy is taken or not
    /// open takes any copy left (a straggler's ring copy, or one whose ring worker is gone).
    private func placeRingCopies(_ job: ClusterJob, _ open: [(key: Int, eligible: [WorkerRecord])])
        -> [(key: Int, worker: WorkerRecord)] {
        guard !open.isEmpty else { return [] }
        var busy = Set(open.flatMap(\.eligible).map(\.peer).filter { job.load(of: $0) > 0 })
        var placed: [(key: Int, worker: WorkerRecord)] = []
        var left: [(key: Int, eligible: [WorkerRecord])] = []
        let keys = job.pieces.keys.sorted()
        for (key, eligible) in open {
            // The worker of the next piece in leaf order (wrapping) that may compute this copy.
            let i = keys.firstIndex(of: key)!
            let next = (1..<max(keys.count, 1)).lazy.compactMap { offset -> WorkerRecord? in
                let other = job.pieces[keys[(i + offset) % keys.count]]!
                guard let peer = other.owner ?? other.doneBy else { return nil }
                return eligible.first { $0.peer == peer }
            }.first
            if let worker = next, !busy.contains(worker.peer) {
                placed.append((key, worker))
                busy.insert(worker.peer)
            } else {
                left.append((key, eligible))
            }
        }
        for (key, eligible) in left {
            guard let worker = eligible.first(where: { !busy.contains($0.peer) }) else { continue }
            placed.append((key, worker))
            busy.insert(worker.peer)
        }
        return placed
    }

    /// Whether this process computes the same bits as workers with `kernels`.
    func canComputeHere(like kernels: KernelIdentity?) -> Bool {
        guard let kernels else { return true }
        return KernelIdentity.current.computesSameBits(as: kernels)
    }

    /// Block `key` of training step `job`, computed in this process as a worker would.
    func computeHere(_ job: ClusterJob, key: Int, state: TrainingState) throws(TrainingError) -> ShardResult {
        guard case .train(let plan) = job.kind else { throw .resultMismatch(step: Int(job.step), "an evaluation has no audit") }
        let work = plan.work(job.pieces[key]!.block, seed: problem.config.training.seed)
        let images = try source.images(split: problem.config.data.trainSplit, indices: work.sampleIDs)
        let truth = state.truth(of: work.sampleIDs[...])
        let data = ShardData(count: work.sampleIDs.count, images: images, labels: truth.labels, targets: truth.targets)
        return try localComputer.compute(work, data: data, parameters: state.computeParameters, buffers: state.buffers)
    }

    /// Once every piece and copy of a training step is in: checks each piece against the
    /// gradient bound (one out of bounds is audited now), compares every audit, and names
    /// the culprit of a difference. True when the step may be reduced; false when more work
    /// was given out (or is awaited).
    func settleAudits(_ job: ClusterJob, state: TrainingState) throws(TrainingError) -> Bool {
        guard case .train = job.kind, options.audit > 0 else { return true }
        if checkBounds(job) { return false }
        var more = false
        for key in job.audits.keys.sorted() where !job.audits[key]!.settled {
            let audit = job.audits[key]!
            let block = job.pieces[key]!.block
            guard let second = audit.second.result else { continue }
            guard let primary = primaryResult(job, key) else { more = true; continue }
            let first = job.pieces[key]!.doneBy
            if !audit.second.local && audit.second.by == first {
                // One worker computed both (its peer died meanwhile): no audit; ask another.
                job.audits[key]!.second = AuditCopy(avoid: Set([first].compactMap { $0 }))
                more = true
                continue
            }
            guard let third = audit.third else {
                statistics.blocksAudited += 1
                if GradientAudit.sameBits(primary, second) {
                    job.audits[key]!.settled = true
                    continue
                }
                statistics.auditMismatches += 1
                more = true
                if audit.second.local {
                    // This process computed the second: it is the one computation trusted.
                    resolve(job, key: key, good: second, goodBy: nil, culprits: [(first, primary)], judge: "this coordinator")
                    continue
                }
                let pair = [first, audit.second.by].compactMap { $0 }
                job.quarantined.formUnion(pair)
                logger.warning("audit: step \(job.step), block \(block) (\(audit.reason)): workers \(pair.map(name(of:)).joined(separator: " and ")) computed different bits (\(GradientAudit.firstDifference(primary, second))): both quarantined; a third computation decides")
                job.audits[key]!.third = AuditCopy(avoid: Set(pair))
                // One difference at a time: the others may involve the same culprit, and
                // quarantining every worker at once would leave no third to ask.
                break
            }
            guard let decider = third.result else { continue }
            more = true
            let firstAgrees = GradientAudit.sameBits(decider, primary)
            let secondAgrees = GradientAudit.sameBits(decider, second)
            if !firstAgrees && !secondAgrees && !third.local {
                // Three results, three answers: this process decides if it can, else nobody.
                let kernels = first.flatMap { workers[$0]?.hello.kernels } ?? runKernels
                guard canComputeHere(like: kernels) else {
                    throw .cluster(what: "step \(job.step): the audit of block \(block)",
                                   cause: AuditFailure(detail: "three workers computed three different results, and this coordinator (kernels \(KernelIdentity.current)) cannot decide between them"))
                }
                let value = try computeHere(job, key: key, state: state)
                job.audits[key]!.third = AuditCopy(result: value, local: true)
                continue
            }
            var culprits: [(PeerID?, ShardResult)] = []
            if !firstAgrees { culprits.append((first, primary)) }
            if !secondAgrees { culprits.append((audit.second.by, second)) }
            resolve(job, key: key, good: decider, goodBy: firstAgrees ? first : secondAgrees ? audit.second.by : nil, culprits: culprits,
                    judge: third.local ? "this coordinator" : "worker \(third.by.map(name(of:)) ?? "?")")
        }
        if more { return false }
        for piece in job.pieces.values { if let m = piece.magnitude { bound.record(m) } }
        return true
    }

    /// Checks every piece not checked yet against the gradient bound; true when one is out
    /// of bounds and was given an audit (which must run before the step is taken).
    private func checkBounds(_ job: ClusterJob) -> Bool {
        var flagged = false
        for key in job.pieces.keys.sorted() where job.pieces[key]!.magnitude == nil {
            guard let magnitude = largestMagnitudePerShard(job, key) else { continue }
            job.pieces[key]!.magnitude = magnitude
            guard bound.isOutOfBounds(magnitude) else { continue }
            statistics.outOfBounds += 1
            let block = job.pieces[key]!.block
            let recent = bound.median.map { String(format: "the recent median is %g", $0) } ?? "no history yet"
            let by = job.pieces[key]!.doneBy.map(name(of:)) ?? "?"
            if job.audits[key] == nil {
                logger.warning("step \(job.step): block \(block) from worker \(by) has gradients up to \(magnitude) per micro-shard (\(recent)): out of bounds, audited before the step is taken")
                job.audits[key] = PieceAudit(reason: "bound check: \(magnitude) per micro-shard")
                flagged = true
            }
        }
        return flagged
    }

    /// The largest gradient magnitude of piece `key`'s result over its micro-shards, read
    /// where the gradient lies; nil when it cannot be read (the reduction then finds out).
    private func largestMagnitudePerShard(_ job: ClusterJob, _ key: Int) -> Float? {
        let block = job.pieces[key]!.block
        let count = Float(block.count)
        if let result = job.trainResults[block] {
            return result.gradients.withUnsafeBufferPointer { g in
                g.baseAddress.map { GradientAudit.largestMagnitude($0, count: g.count) / count }
            }
        }
        guard let pending = job.pendingShared[key] else { return nil }
        let n = problem.model.parameters.count
        guard let bytes = pending.region.payload(slot: Int(pending.slot.slot), tag: pending.slot.tag, byteCount: 4 * n),
              let floats = bytes.bindMemory(to: Float.self).baseAddress else { return nil }
        let value = GradientAudit.largestMagnitude(floats, count: n) / count
        // A slot overwritten meanwhile may have given any number: only a stable read counts.
        return pending.region.stillHolds(slot: Int(pending.slot.slot), tag: pending.slot.tag) && value.isFinite ? value : nil
    }

    /// Piece `key`'s result with its gradient in memory (copied out of shared memory if it
    /// lies there); nil when that copy failed (the piece is then out again).
    private func primaryResult(_ job: ClusterJob, _ key: Int) -> ShardResult? {
        let block = job.pieces[key]!.block
        if let result = job.trainResults[block] { return result }
        guard job.pendingShared[key] != nil, readPendingShared(job, keys: [key]) else { return nil }
        return job.trainResults[block]
    }

    private func name(of peer: PeerID) -> String {
        workers[peer]?.name ?? "\(peer)"
    }

    /// The third computation (or this process) said which result of block `key` is good:
    /// every culprit is excluded from the run, the block takes the good result, and
    /// everything else the culprits computed in this step is computed again by others.
    private func resolve(_ job: ClusterJob, key: Int, good: ShardResult, goodBy: PeerID?,
                         culprits: [(peer: PeerID?, result: ShardResult)], judge: String) {
        let block = job.pieces[key]!.block
        let auditKey = "audit key: seed \(problem.config.training.seed), step \(job.step), block \(block)"
        let bad = Set(culprits.compactMap(\.peer))
        for (peer, result) in culprits {
            guard let peer else { continue }
            let who = name(of: peer)
            let kernels = workers[peer].map { ", kernels \($0.hello.kernels)" } ?? ""
            let why = "its result for step \(job.step), micro-shards \(block) differs from the one \(judge) confirmed (\(auditKey); first difference: \(GradientAudit.firstDifference(result, good)))"
            logger.error("audit: worker \(who)\(kernels) computed a wrong result: \(why)")
            if let worker = workers[peer] {
                exclude(worker, why: why)
            } else {
                excluded[peer] = why
            }
        }
        job.quarantined.subtract(job.quarantined.filter { !bad.contains($0) })
        job.pendingShared[key] = nil
        job.trainResults[block] = good
        job.pieces[key]!.done = true
        job.pieces[key]!.doneBy = goodBy
        job.pieces[key]!.owner = nil
        job.pieces[key]!.magnitude = nil
        job.audits[key]!.settled = true
        // Whatever else a culprit computed for this step is not trusted: computed again.
        for (other, piece) in job.pieces where other != key {
            job.pieces[other]!.givenTo.subtract(bad)
            guard piece.done, let by = piece.doneBy, bad.contains(by) else { continue }
            job.pieces[other]!.done = false
            job.pieces[other]!.doneBy = nil
            job.pieces[other]!.owner = nil
            job.pieces[other]!.magnitude = nil
            job.trainResults[piece.block] = nil
            job.pendingShared[other] = nil
            // Its audit (if any) compares again, with the new result.
            job.audits[other]?.settled = false
            logger.warning("step \(job.step): micro-shards \(piece.block), computed by the excluded worker, are computed again")
        }
        for other in job.audits.keys where other != key {
            for stage in [AuditCopy.Stage.second, .third] {
                guard let copy = job.copy(other, stage), let by = copy.by, bad.contains(by) else { continue }
                job.setCopy(other, stage) { $0 = AuditCopy(avoid: $0.avoid.union(bad)) }
            }
            if job.audits[other]!.second.result == nil { job.audits[other]!.settled = false }
        }
    }
}

/// Why an audit could not decide (wrapped in `TrainingError.cluster`).
struct AuditFailure: Error, CustomStringConvertible {
    let detail: String
    var description: String { detail }
}
