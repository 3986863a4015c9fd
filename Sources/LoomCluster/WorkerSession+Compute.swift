// A worker computing what it is given: a block of micro-shards of a training step (an
// assignment, computed as `ShardWork` and summed along the reduction tree into one result),
// or a chunk of evaluation samples (an evaluate request, answered with logits).

import Foundation
import LoomConfig
import LoomData
import LoomKernels
import LoomTraining
import LoomWire

extension WorkerSession {
    func compute(_ a: Assignment) throws(ClusterError) {
        let endpoint = worker.options.endpoint
        guard let run = current else { return }
        guard awaitSlices(a.weightsVersion) else { return }
        try checkVersion(a.weightsVersion)
        let problem = run.computer.problem
        let m = run.computer.microBatch
        // Steps count from 0 and are keys of dropout's draws: one past 2^63 − 1 is no step of a run.
        guard let step = Int(exactly: a.step) else {
            throw .unusableWork(endpoint: endpoint, what: "step \(a.step)", reason: "a step number must be below 2^63")
        }
        let fault = worker.options.testFault.flatMap { $0.after <= worker.blocksAssigned ? $0.kind : nil }
        worker.blocksAssigned += 1
        if fault == .stall { return }
        dyingAfterResult = fault == .dieAfterResult && !servers.isEmpty
        guard a.shardSampleCounts.allSatisfy({ Int($0) == m }), a.headScales.count == problem.losses.count else {
            throw .unusableWork(endpoint: endpoint, what: "step \(a.step)", reason: "micro-shards of \(a.shardSampleCounts) samples and \(a.headScales.count) head scales; this run has micro-batch \(m) and \(problem.losses.count) heads")
        }
        let work = ShardWork(step: step, epoch: Int(a.epoch), seed: problem.config.training.seed,
                             block: ShardBlock(start: Int(a.firstShard), count: a.shardCount), microBatch: m,
                             sampleIDs: a.sampleIndices, headScales: a.headScales)
        // Overlap: each server sends the next version's ranges as soon as it has stepped
        // them, while this block is still computed, to every worker that pushed it a range
        // of this version: the pushes stand for the pulls (docs/PROTOCOL.md, "With overlap").
        let overlap = problem.config.cluster.overlap && !servers.isEmpty
        if let hold = worker.options.standInMilliseconds {
            if overlap {
                let (sum, pushed) = standInOverlapped(work, holding: hold, run: run, assignment: a)
                return send(sum, for: a, run: run, pushed: pushed)
            }
            let sum = standIn(work, holding: hold, run: run)
            return send(sum, for: a, run: run)
        }
        let data: ShardData
        if !a.sampleRecords.isEmpty {
            do throws(SampleRecordsError) {
                data = try SampleRecords.unpack(a.sampleRecords, ids: work.sampleIDs,
                                                pixels: problem.imageShape.elementCount, heads: problem.losses.count,
                                                targetWidths: SampleRecords.targetWidths(of: problem))
            } catch {
                throw .unusableWork(endpoint: endpoint, what: "step \(a.step)", reason: error.explained(heads: problem.heads))
            }
        } else if let local = worker.localData {
            data = try local.load(split: problem.config.data.trainSplit, ids: work.sampleIDs, heads: problem.heads)
        } else {
            throw .unusableWork(endpoint: endpoint, what: "step \(a.step)", reason: "the assignment has no sample records and this worker has no dataset")
        }
        // Micro-shard by micro-shard (on each slot), with heartbeats in between.
        var sum: ShardResult
        // Overlap: the block's gradient goes to the servers range by range during the
        // backward pass (one slot; several slots push the whole sum at the end).
        var pushing = overlap && run.slotComputer.subBlocks(of: work.block).count == 1 && fault != .flipBit
        let pushed = pushing
        do {
            if pushed {
                // Small ranges go with the next one (`FusedPushes`).
                var fused = FusedPushes(buckets: layout?.buckets ?? [], order: problem.model.backwardSpans.map { ($0.parameters, $0.flops) })
                let bf16 = problem.config.cluster.wire == .bf16
                // The reported ranges' values, in place, for the pushes that join them.
                var staged = [Float](repeating: 0, count: problem.model.parameters.count)
                let push = { (range: Range<Int>) in
                    staged.withUnsafeBufferPointer {
                        self.pushRange(range, UnsafeBufferPointer(rebasing: $0[range]), for: a, runID: run.runID, bf16: bf16)
                    }
                }
                sum = try run.slotComputer.first.compute(work, data: data, parameters: parameters, buffers: buffers,
                                                         afterEach: { self.beatIfDue() }, push: { range, values in
                    // A range that is not finite is not pushed, nor anything after it: the
                    // result then goes whole to the coordinator, which rejects it (R12).
                    guard pushing else { return }
                    guard firstNonFinite(values) == nil else { pushing = false; return }
                    staged.replaceSubrange(range, with: values)
                    pushing = fused.add(range, push: push)
                    self.beatIfDue()
                })
                if pushing { pushing = fused.finish(push: push) }
            } else {
                sum = try run.slotComputer.compute(work, data: data, parameters: parameters, buffers: buffers,
                                                   waiting: { self.beatIfDue() })
            }
        } catch {
            throw .computeFailed(endpoint: endpoint, what: "step \(a.step) block \(work.block)", cause: error)
        }
        if fault == .flipBit, !sum.gradients.isEmpty {
            sum.gradients[0] = Float(bitPattern: sum.gradients[0].bitPattern ^ 1)
        }
        send(sum, for: a, run: run, pushed: pushed && pushing)
        run.computer.recycle(sum)
    }

    /// Sends the result of assignment `a`, its gradient through shared memory when asked.
    /// `pushed`: its gradient went to the servers by ranges already (overlap), each range
    /// checked finite as it went.
    private func send(_ sum: ShardResult, for a: Assignment, run: Run, pushed: Bool = false) {
        var wire = sum.wire(runID: run.runID, step: a.step, epoch: a.epoch, weightsVersion: a.weightsVersion,
                            firstShard: a.firstShard, shardCount: UInt32(a.shardCount),
                            bf16: run.computer.problem.config.cluster.wire == .bf16)
        // Pushed by ranges: each range was checked as it went out (`firstNonFinite`), so
        // the gradient is not scanned again here, in the step's tail, where every worker of
        // a host (and of the bed) finishes at once; its batch statistics are.
        let finite = pushed ? firstNonFinite(sum.batchStatistics) == nil : sum.isFinite
        if pushed && finite {
            wire.gradientSum = []
        } else if !servers.isEmpty && finite {
            // The gradient goes to the servers, slice by slice; the rest to the coordinator.
            // A non-finite sum goes whole to the coordinator, which rejects it (R12) and has
            // the block computed again by another worker, as without servers.
            guard pushSlices(sum.gradients, for: a, runID: run.runID, bf16: wire.bf16) else { return }
            wire.gradientSum = []
        } else if a.sharedResult, let slot = publishSharedGradient(sum.gradients) {
            wire.gradientSum = []
            wire.sharedGradient = slot
        }
        sendToCoordinator(.result(wire))
        if dyingAfterResult {
            worker.log.warning("step \(a.step): test fault die-after-result: the result is sent, the gradient went to the first server only; dying")
            Thread.sleep(forTimeInterval: 1)
            kill(getpid(), SIGKILL)
        }
        worker.options.timeline?.record(.resultSent, step: a.step)
        worker.countPiece()
        // Overlap: the next version's ranges come back as the servers complete them. Every
        // server got a range of this block's gradient (finite: all of it went out), which
        // stands for a pull of the next version there; nothing to send.
        if run.computer.problem.config.cluster.overlap && !servers.isEmpty && finite { prePulled = a.weightsVersion + 1 }
    }

    /// The stand-in of computing `work`: the slots hold their sub-blocks for `hold` ms per
    /// micro-shard side by side, so the block takes as long as its largest sub-block; the
    /// result (`StandIn`) is made within that time, and heartbeats go out meanwhile.
    private func standIn(_ work: ShardWork, holding hold: Double, run: Run) -> ShardResult {
        let started = ContinuousClock.now
        let longest = run.slotComputer.subBlocks(of: work.block).map(\.count).max() ?? 1
        let problem = run.computer.problem
        let sum = StandIn.result(step: work.step, block: work.block, parameterCount: problem.model.parameters.count,
                                 buffers: run.standInBuffers, heads: problem.losses.count, microBatch: work.microBatch,
                                 wire: problem.config.cluster.wire)
        let until = started + .microseconds(Int64(hold * 1000 * Double(longest)))
        while ContinuousClock.now < until {
            beatIfDue()
            let left = until - ContinuousClock.now
            if left > .zero { Thread.sleep(forTimeInterval: min(0.02, Double(left.components.attoseconds) * 1e-18 + Double(left.components.seconds))) }
        }
        return sum
    }

    func evaluate(_ request: EvaluationRequest) throws(ClusterError) {
        let endpoint = worker.options.endpoint
        guard let run = current else { return }
        guard awaitSlices(request.weightsVersion) else { return }
        try checkVersion(request.weightsVersion)
        let computer = run.computer
        let n = request.sampleIndices.count
        let pixels = computer.problem.imageShape.elementCount
        guard request.images.count == n * pixels else {
            throw .unusableWork(endpoint: endpoint, what: "evaluation chunk \(request.chunk)", reason: "\(request.images.count) image bytes for \(n) images of \(pixels)")
        }
        let logits: [[Float]]
        do {
            logits = try request.images.withUnsafeBufferPointer { (images) throws(TrainingError) in
                try computer.predict(images: images.baseAddress!, count: n, parameters: parameters, buffers: buffers,
                                     tta: request.tta ? run.tta : [])
            }
        } catch {
            throw .computeFailed(endpoint: endpoint, what: "evaluation chunk \(request.chunk)", cause: error)
        }
        sendToCoordinator(.evaluation(EvaluationReply(runID: run.runID, weightsVersion: request.weightsVersion,
                                                      chunk: request.chunk, logits: logits.flatMap { $0 })))
        worker.countPiece()
    }

    /// Weights always precede the work that names them on one connection; a mismatch means
    /// messages were lost, so the session starts over.
    private func checkVersion(_ wanted: UInt64) throws(ClusterError) {
        guard wanted == version else {
            throw .outOfStep(endpoint: worker.options.endpoint, reason: "work for weights version \(wanted), this worker holds \(version.map(String.init) ?? "none")")
        }
    }
}
