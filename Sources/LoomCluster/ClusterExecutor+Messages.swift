// What the coordinator does with each message a peer sends, and how it builds assignments.

import Foundation
import Logging
import LoomKernels
import LoomTraining
import LoomWire

extension ClusterExecutor {
    func handle(_ envelope: Envelope, state: TrainingState?) {
        let peer = envelope.peer
        handlingAddress = envelope.peerAddress
        handlingKey = envelope.peerKey
        defer { handlingAddress = nil; handlingKey = nil }
        if let why = excluded[peer] {
            return reject(peer, "excluded peer", "a message from a worker excluded from the run (\(why))")
        }
        let message: Message
        do {
            message = try Message.decode(envelope.frames, expectedRunID: runID)
        } catch {
            if case .nonFinite(.result, _, _, let step, let first, _) = error, let worker = workers[peer],
               let job = trainingJob(step: step) {
                if let stage = job.copyStage(Int(first), from: peer) {
                    // The block's audit copy: another worker computes it (the piece itself
                    // is what decides a divergence).
                    job.setCopy(Int(first), stage) { $0.owner = nil; $0.avoid.insert(peer) }
                } else if job.pieces[Int(first)]?.done == false {
                    noteNonFinite(job, piece: Int(first), from: worker, detail: "\(error)")
                }
            }
            reject(peer, RejectCounts.reason(error), "\(error)")
            if case .unsupportedVersion = error {
                let refusal = Message.refuse(Refusal(runID: runID, reason: "protocol version not supported: this coordinator speaks version \(WireHeader.protocolVersion)"))
                try? transport.send(refusal, to: peer)
            }
            return
        }
        if case .hello(let hello) = message { return handleHello(hello, from: peer) }
        if handleServerMessage(message, from: peer) { return }
        guard let worker = workers[peer] ?? readmit(peer) else {
            if case .heartbeat = message, strangerHeartbeat(from: peer) { return }
            return reject(peer, "unknown peer", "\(message.type) from a peer that has not said hello (or was declared dead)")
        }
        worker.lastHeard = clock.now
        switch message {
        case .heartbeat:
            return
        case .result(let result):
            handleResult(result, from: worker)
        case .evaluation(let reply):
            handleEvaluation(reply, from: worker)
        default:
            reject(peer, "unexpected type", "a worker may not send \(message.type)")
        }
    }

    /// A heartbeat from a peer that has not said hello: after this coordinator restarted, the
    /// workers and servers of the one before heartbeat on their old connections (ZeroMQ
    /// reconnects them, and flushes what it queued meanwhile) until `cluster.worker_timeout_ms`
    /// of silence makes them say hello again; so does a server declared lost whose link came
    /// back. That is expected, not an attack: noted once per peer, then counted as an
    /// `unknown peer` drop without a line each (a restart gave ~100 warning lines before).
    /// Returns false when the set of such peers is full (a flood of identities goes through
    /// `reject` and its rate limit).
    func strangerHeartbeat(from peer: PeerID) -> Bool {
        if heartbeatStrangers.contains(peer) { rejects.add("unknown peer"); return true }
        guard heartbeatStrangers.count < 1024 else { return false }
        heartbeatStrangers.insert(peer)
        rejects.add("unknown peer")
        let from = handlingAddress.map { " at \($0)" } ?? ""
        logger.notice("heartbeats from peer \(peer)\(from), which has not said hello to this coordinator (a worker or server of an earlier coordinator process, or one declared dead or lost): dropped and counted without a line each; it says hello again after cluster.worker_timeout_ms (\(milliseconds(options.workerTimeout)) ms) without an answer")
        return true
    }

    private func handleHello(_ hello: Hello, from peer: PeerID) {
        let name = "\(peer) (\(hello.hostname):\(hello.pid))"
        if hello.hasLocalData && hello.datasetFingerprint != source.fingerprint {
            return refuse(peer, name: name, reason: "the worker's dataset has fingerprint \(hello.datasetFingerprint) but the run's dataset (\(problem.config.data.path)) has \(source.fingerprint): give the worker the same file, or start it with --no-local-data")
        }
        if let reason = kernelRefusal(hello, from: peer, worker: name) { return refuse(peer, name: name, reason: reason) }
        let shared = acceptSharedMemory(hello, worker: name)
        if let known = workers[peer] {
            // Same connection, new hello: the worker found (or lost) its local copy of the
            // data, or mapped the shared weights and made its results region.
            known.hello = hello
            known.lastHeard = clock.now
            known.sharedResults = shared
            logger.info("worker \(name) updated: local data \(hello.hasLocalData ? "yes" : "no"), shared memory \(shared == nil ? "no" : "yes")")
        } else {
            let record = WorkerRecord(peer: peer, hello: hello, now: clock.now, serial: nextSerial)
            record.sharedResults = shared
            nextSerial += 1
            workers[peer] = record
            statistics.workersJoined += 1
            logger.info("worker \(name) joined: \(hello.cores) core(s), local data \(hello.hasLocalData ? "yes" : "no"), shared memory \(shared == nil ? "no" : "yes"); \(workers.count) worker(s) live")
        }
        send(welcomeFrames, to: workers[peer]!)
    }

    /// Refuses the worker at `peer` with `reason`, logged here and sent to it.
    private func refuse(_ peer: PeerID, name: String, reason: String) {
        logger.error("refusing worker \(name): \(reason)")
        statistics.workersRefused += 1
        if let old = workers[peer] { declareDead(old, why: "refused on a new hello") }
        departed[peer] = nil
        try? transport.send(.refuse(Refusal(runID: runID, reason: reason)), to: peer)
    }

    /// Why a worker's kernels keep it out of the run, or nil to admit it. The first worker
    /// admitted fixes the run's kernels (`runKernels`); a later one must compute the same
    /// bits (the same OpenBLAS core type), unless `allowMixedKernels`, which admits it with a
    /// warning. When no other worker is live the newcomer's kernels become the run's, with a
    /// warning, as for a run resumed on other machines: a run whose workers all moved to
    /// another CPU type goes on instead of refusing every one of them forever.
    private func kernelRefusal(_ hello: Hello, from peer: PeerID, worker name: String) -> String? {
        guard let run = runKernels else {
            runKernels = hello.kernels
            logger.info("the run's kernels: \(hello.kernels) (those of worker \(name), the first admitted)")
            return nil
        }
        if run.computesSameBits(as: hello.kernels) { return nil }
        if workers.keys.allSatisfy({ $0 == peer }) {
            logger.warning("no worker with the run's kernels (\(run)) is live: the run goes on with \(hello.kernels), those of worker \(name); its weights now match an uninterrupted run only to rounding, not bitwise")
            runKernels = hello.kernels
            return nil
        }
        if options.allowMixedKernels {
            logger.warning("admitting worker \(name) with other kernels (--allow-mixed-kernels): it computes with \(hello.kernels), the run with \(run); from now on the run's weights are reproducible only to rounding, not bitwise")
            return nil
        }
        let cure = hello.kernels.revision != run.revision
            ? "run the worker from the same Loom build as the run's (kernel revision \(run.revision))"
            : "start the worker with OPENBLAS_CORETYPE=\(run.blasCore)"
        return "the worker computes with \(hello.kernels) but the run computes with \(run): its gradients would round differently and the run would no longer be bitwise reproducible; \(cure), or start the coordinator with --allow-mixed-kernels"
    }

    /// The worker's results region if its hello offers shared memory that checks out: it
    /// quotes our weights region's token (so it mapped that file, on this machine), and its
    /// own region opens with the token it named and holds a gradient. Nil otherwise, with a
    /// notice when an offer was refused.
    private func acceptSharedMemory(_ hello: Hello, worker name: String) -> SharedRegion? {
        guard let offer = hello.sharedMemory else { return nil }
        guard let weights = sharedWeights, offer.weightsToken == weights.tokenHex else {
            logger.notice("worker \(name) offered shared memory for another weights region; using the socket")
            return nil
        }
        do {
            let region = try SharedRegion.open(path: offer.resultsPath)
            guard region.tokenHex == offer.resultsToken else {
                logger.notice("worker \(name): its results region \(offer.resultsPath) holds another token than the one it named; using the socket")
                return nil
            }
            guard region.slotBytes >= 4 * problem.model.parameters.count else {
                logger.notice("worker \(name): its results region holds \(region.slotBytes) bytes per slot, a gradient needs \(4 * problem.model.parameters.count); using the socket")
                return nil
            }
            return region
        } catch {
            logger.notice("worker \(name): \(error); using the socket")
            return nil
        }
    }

    /// A worker declared dead that speaks again (it was only slow, or the network paused)
    /// is taken back with the hello it gave; it gets the weights again with its next work.
    private func readmit(_ peer: PeerID) -> WorkerRecord? {
        guard let hello = departed.removeValue(forKey: peer) else { return nil }
        let record = WorkerRecord(peer: peer, hello: hello, now: clock.now, serial: nextSerial)
        record.sharedResults = acceptSharedMemory(hello, worker: record.name)
        nextSerial += 1
        workers[peer] = record
        logger.notice("worker \(record.name) declared dead earlier is alive: taken back; \(workers.count) worker(s) live")
        return record
    }

    private func handleResult(_ result: BlockResult, from worker: WorkerRecord) {
        let peer = worker.peer
        options.timeline?.record(.resultIn, step: result.step, worker.serial)
        // The running step's, or the next one's assigned ahead (ClusterExecutor+Early.swift).
        guard let job = trainingJob(step: result.step, epoch: result.epoch, weightsVersion: result.weightsVersion) else {
            return reject(peer, "stale result", "result for step \(result.step) (weights \(result.weightsVersion)) while \(job.map { "step \($0.step) is running" } ?? "no step is running")")
        }
        let key = Int(result.firstShard)
        guard case .train = job.kind, let piece = job.pieces[key], piece.block.count == Int(result.shardCount) else {
            return reject(peer, "unknown block", "step \(job.step): no block starts at \(result.firstShard) with \(result.shardCount) micro-shard(s)")
        }
        if let stage = job.copyStage(key, from: peer) {
            // An audit copy: asked for in the message, kept whole until it is compared.
            guard result.sharedGradient == nil else {
                return reject(peer, "unexpected shared payload", "step \(job.step) block \(piece.block): the audit's \(stage) computation was asked for in the message")
            }
            guard let value = checked(result, for: piece, of: job, from: peer) else { return }
            let copy = job.copy(key, stage)!
            if copy.owner == peer, let at = copy.givenAt {
                deadline.record(.train, seconds: seconds(clock.now - at), units: copy.heldUnits)
                worker.missedDeadlines = 0
            }
            job.setCopy(key, stage) { $0.result = value; $0.by = peer; $0.owner = nil }
            logger.trace("step \(job.step): the \(stage) computation of block \(piece.block) in from worker \(worker.name)")
            return
        }
        guard piece.givenTo.contains(peer) else {
            return reject(peer, "unassigned block", "step \(job.step): block \(piece.block) was not given to this worker")
        }
        guard !piece.done else {
            return reject(peer, "duplicate result", "step \(job.step): block \(piece.block) is already in")
        }
        if let slot = result.sharedGradient {
            guard let region = worker.sharedResults else {
                return reject(peer, "unexpected shared payload", "step \(job.step) block \(piece.block): a shared gradient from a worker whose shared memory was not accepted")
            }
            guard let rest = checked(result, for: piece, of: job, from: peer) else { return }
            job.pendingShared[key] = PendingShared(withoutGradients: rest, slot: slot, region: region, worker: worker)
        } else {
            guard let value = checked(result, for: piece, of: job, from: peer) else { return }
            job.trainResults[piece.block] = value
        }
        markDone(job, key: key, by: worker)
    }

    private func handleEvaluation(_ reply: EvaluationReply, from worker: WorkerRecord) {
        let peer = worker.peer
        guard let job, case .evaluate = job.kind, reply.weightsVersion == job.weightsVersion else {
            return reject(peer, "stale result", "evaluation chunk \(reply.chunk) (weights \(reply.weightsVersion)) while \(job.map { "step \($0.step) is running" } ?? "nothing is running")")
        }
        let key = Int(reply.chunk)
        guard let piece = job.pieces[key] else {
            return reject(peer, "unknown block", "evaluation: no chunk \(reply.chunk)")
        }
        guard piece.givenTo.contains(peer) else {
            return reject(peer, "unassigned block", "evaluation chunk \(key) was not given to this worker")
        }
        guard !piece.done else {
            return reject(peer, "duplicate result", "evaluation chunk \(key) is already in")
        }
        let expected = job.evaluationSamples(key).count * problem.totalOutputs
        guard reply.logits.count == expected else {
            return reject(peer, "bad result shape", "evaluation chunk \(key): \(reply.logits.count) logits, expected \(expected)")
        }
        job.logits[key] = reply.logits
        markDone(job, key: key, by: worker)
    }

    private func markDone(_ job: ClusterJob, key: Int, by worker: WorkerRecord) {
        let now = clock.now
        let piece = job.pieces[key]!
        if piece.owner == worker.peer, let at = piece.givenAt {
            // In time or not, it answered: the deadline learns from it.
            let kind: StepDeadline.Kind
            if case .train = job.kind { kind = .train } else { kind = .evaluate }
            deadline.record(kind, seconds: seconds(now - at), units: piece.heldUnits)
            worker.missedDeadlines = 0
        }
        job.pieces[key]!.done = true
        job.pieces[key]!.doneBy = worker.peer
        if job.firstResultAt == nil { job.firstResultAt = now }
        job.lastResultAt = now
        logger.trace("step \(job.step): piece \(job.pieces[key]!.block) in from worker \(worker.name)")
    }

    /// Training result `result` of `piece` if its shape fits the model, its gradient sum left
    /// empty when it lies in shared memory; nil after rejecting it.
    private func checked(_ result: BlockResult, for piece: Piece, of job: ClusterJob,
                         from peer: PeerID) -> ShardResult? {
        var why = ""
        if options.servers > 0 && !result.gradientSum.isEmpty {
            reject(peer, "bad result shape", "step \(job.step) block \(piece.block): a gradient sum in the result of a run with shard servers (it goes to the servers)")
            return nil
        }
        // A float32 gradient in a bf16 run (or the reverse) was not rounded along the run's tree.
        if result.sharedGradient == nil, result.bf16 != (problem.config.cluster.wire == .bf16) {
            reject(peer, "bad result shape", "step \(job.step) block \(piece.block): gradient_sum in \(result.bf16 ? "bf16" : "fp32"), the run's cluster.wire is \(problem.config.cluster.wire.rawValue)")
            return nil
        }
        let buffers = problem.model.buffers.count, heads = problem.losses.count
        let value = result.sharedGradient == nil && options.servers == 0
            ? ShardResult.fromWire(result, parameterCount: problem.model.parameters.count,
                                                bufferCount: buffers, headCount: heads, why: &why)
            : ShardResult.fromWireWithoutGradients(result, bufferCount: buffers, headCount: heads, why: &why)
        guard let value else {
            reject(peer, "bad result shape", "step \(job.step) block \(piece.block): \(why)")
            return nil
        }
        return value
    }

    /// Copies the gradient sums `job`'s results left in shared memory into `trainResults`
    /// (only `worker`'s, when given); true when every one was good. A piece whose result
    /// fails is not done again.
    func readPendingShared(_ job: ClusterJob, of worker: WorkerRecord? = nil, keys: Set<Int>? = nil) -> Bool {
        var good = true
        for key in job.pendingShared.keys.sorted() where keys?.contains(key) ?? true {
            guard let pending = job.pendingShared[key], worker.map({ $0 === pending.worker }) ?? true else { continue }
            job.pendingShared[key] = nil
            let piece = job.pieces[key]!
            guard let gradients = sharedGradients(pending, of: piece, job: job) else {
                job.pieces[key]!.done = false
                good = false
                continue
            }
            var result = pending.withoutGradients
            result.gradients = gradients
            job.trainResults[piece.block] = result
            statistics.sharedGradientBytes += 4 * gradients.count
        }
        return good
    }

    /// `pending`'s gradient sum copied out of the worker's region and checked as the wire
    /// checks an inline one (R12); nil after rejecting it. An unreadable slot (overwritten,
    /// or never written) gives the block out again, and after
    /// `WorkerRecord.unreadableResultLimit` of them the worker's assignments and weights use
    /// the socket; a non-finite one waits for its worker, as a rejected inline result does.
    private func sharedGradients(_ pending: PendingShared, of piece: Piece, job: ClusterJob) -> [Float]? {
        let worker = pending.worker, peer = worker.peer, slot = pending.slot
        let count = problem.model.parameters.count
        var readable = false
        let gradients = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            readable = pending.region.read(slot: Int(slot.slot), tag: slot.tag, into: UnsafeMutableRawBufferPointer(buffer))
            if !readable { buffer.initialize(repeating: 0) }
            initialized = count
        }
        guard readable else {
            if piece.owner == peer { job.pieces[piece.block.start]!.owner = nil }
            worker.unreadableResults += 1
            var fallback = ""
            if worker.unreadableResults >= WorkerRecord.unreadableResultLimit {
                worker.sharedResults = nil
                fallback = "; \(worker.unreadableResults) unreadable results from this worker: it uses the socket from now on"
            }
            reject(peer, "unreadable shared payload", "step \(job.step) block \(piece.block): slot \(slot.slot) of \(pending.region.path) does not hold tag \(slot.tag) and \(4 * count) bytes; the block is assigned again\(fallback)")
            return nil
        }
        if let bad = firstNonFinite(gradients) {
            let detail = "step \(job.step) block \(piece.block): shared gradient element \(bad) is NaN or infinite (R12)"
            noteNonFinite(job, piece: piece.block.start, from: worker, detail: detail)
            reject(peer, "non-finite values", detail)
            return nil
        }
        return gradients
    }

    /// A result of `worker` for `piece` of the training step `job` held NaN or Inf. Honest
    /// divergence looks like this, and so does a broken worker: a second worker computes the
    /// piece to tell them apart (they compute the same bits). Confirmed, or with no other
    /// worker to ask, the step has diverged (`job.divergence`) and nobody is blamed.
    func noteNonFinite(_ job: ClusterJob, piece key: Int, from worker: WorkerRecord, detail: String) {
        guard var piece = job.pieces[key] else { return }
        piece.nonFiniteFrom.insert(worker.peer)
        let others = workers.values.filter { !piece.nonFiniteFrom.contains($0.peer) }
        let names = orderedWorkers.filter { piece.nonFiniteFrom.contains($0.peer) }.map(\.name)
        if piece.nonFiniteFrom.count >= 2 || others.isEmpty {
            job.divergence = "micro-shards \(piece.block.start)..<\(piece.block.start + piece.block.count) gave NaN or Inf on \(names.joined(separator: " and ")) (\(detail))"
        } else {
            piece.done = false
            piece.owner = nil
            logger.warning("step \(job.step): micro-shards \(piece.block.start)..<\(piece.block.start + piece.block.count) gave NaN or Inf on worker \(worker.name); asking another worker to compute them (a deterministic divergence gives the same)")
        }
        job.pieces[key] = piece
    }

    func reject(_ peer: PeerID, _ reason: String, _ detail: String) {
        rejects.add(reason)
        let who = workers[peer]?.name ?? "\(peer)"
        let address = handlingAddress
        let source = address ?? "peer \(peer)"
        let from = address.map { " at \($0)" } ?? ""
        switch rejectLog.decide(source: source, reason: reason) {
        case .log:
            logger.warning("dropped a message from peer \(who)\(from): \(reason): \(detail)")
        case .logLast:
            logger.warning("dropped a message from peer \(who)\(from): \(reason): \(detail)")
            let every = "a summary every \(options.rejectSummaryInterval.components.seconds) s"
            logger.warning(rejectLog.windowFull
                           ? "too many bad messages; counting them without logging each (\(every))"
                           : "\(source) keeps sending bad messages; counting them without logging each (\(every))")
        case .suppress:
            break
        }
    }

    /// The summary of the rejects not logged in the window that ended (see `RejectLog`);
    /// with `force`, of those so far.
    func logRejectSummary(force: Bool = false) {
        if let line = rejectLog.summary(now: clock.now, force: force) { logger.warning("\(line)") }
    }

    /// The assignment of piece `key` of `job` for `worker`, with sample records when the
    /// worker has no local data (always, for evaluation). Throws when the coordinator's own
    /// dataset cannot be read: no worker could do better. With `inline` the gradient sum
    /// comes back in the message even from a worker with shared memory (audit copies).
    func assignmentFrames(_ job: ClusterJob, piece key: Int, for worker: WorkerRecord,
                          state: TrainingState, inline: Bool = false) throws(TrainingError) -> [[UInt8]] {
        let block = job.pieces[key]!.block
        let config = problem.config
        let pixels = problem.imageShape.elementCount
        do {
            switch job.kind {
            case .train(let plan):
                // The block's ShardWork, as the worker rebuilds it from this assignment.
                let work = plan.work(block, seed: config.training.seed)
                var records: [UInt8] = []
                if !worker.hello.hasLocalData {
                    let images = try source.images(split: config.data.trainSplit, indices: work.sampleIDs)
                    let truth = state.truth(of: work.sampleIDs[...])
                    records = SampleRecords.pack(images: images, labels: truth.labels, targets: truth.targets, pixels: pixels)
                }
                let a = Assignment(runID: runID, step: UInt64(work.step), epoch: UInt32(clamping: work.epoch),
                                   weightsVersion: job.weightsVersion, firstShard: UInt32(block.start),
                                   shardSampleCounts: [UInt32](repeating: UInt32(work.microBatch), count: block.count),
                                   sampleIndices: work.sampleIDs, sampleRecords: records,
                                   headScales: work.headScales, sharedResult: !inline && worker.sharedResults != nil)
                return Message.assignment(a).encode()
            case .evaluate(let split, _, _, let tta):
                let samples = Array(job.evaluationSamples(key))
                let images = try source.images(split: split, indices: samples)
                let request = EvaluationRequest(runID: runID, weightsVersion: job.weightsVersion, chunk: UInt32(key),
                                                tta: tta, sampleIndices: samples, images: images)
                return Message.evaluate(request).encode()
            }
        } catch {
            throw .cluster(what: "step \(job.step): cannot read the samples of block \(block) for worker \(worker.name)", cause: error)
        }
    }
}
