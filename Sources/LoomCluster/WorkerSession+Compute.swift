// A worker computing an assignment: a block of micro-shards of a training step (summed
// along the reduction tree, one result), or a chunk of evaluation samples (logits).

import LoomData
import LoomTraining
import LoomWire

extension WorkerSession {
    func compute(_ a: Assignment) throws(ClusterError) {
        let endpoint = worker.options.endpoint
        guard let run = current else { return }
        guard a.weightsVersion == version else {
            // Weights always precede their assignments on one connection; a mismatch means
            // messages were lost, so start over with a clean session.
            throw .badWelcome(endpoint: endpoint, reason: "assignment for weights version \(a.weightsVersion), this worker holds \(version.map(String.init) ?? "none")")
        }
        let computer = run.computer
        let problem = computer.problem
        let ids = a.sampleIndices.map { Int($0) }
        let pixels = problem.imageShape.elementCount
        let result: LoomWire.ShardResult
        if EvaluationMarker.isEvaluation(a.epoch) {
            guard a.sampleRecords.count == ids.count * pixels else {
                throw .badWelcome(endpoint: endpoint, reason: "evaluation chunk \(a.firstShard): \(a.sampleRecords.count) image bytes for \(ids.count) images of \(pixels)")
            }
            let logits: [[Float]]
            do {
                logits = try a.sampleRecords.withUnsafeBufferPointer { (images) throws(TrainingError) in
                    try computer.predict(images: images.baseAddress!, count: ids.count, parameters: parameters, buffers: buffers,
                                         tta: a.epoch == EvaluationMarker.tta ? run.tta : [])
                }
            } catch {
                throw .badWelcome(endpoint: endpoint, reason: "evaluation chunk \(a.firstShard): \(error)")
            }
            result = LoomWire.ShardResult(runID: run.runID, step: a.step, epoch: a.epoch, weightsVersion: a.weightsVersion,
                                          firstShard: a.firstShard, shardCount: 1, gradientSum: logits.flatMap { $0 },
                                          batchNormStatistics: [], metricSums: [], sampleCounts: [UInt64(ids.count)])
        } else {
            result = try computeTraining(a, ids: ids, run: run)
        }
        sendToCoordinator(.result(result))
        worker.countPiece()
    }

    private func computeTraining(_ a: Assignment, ids: [Int], run: Run) throws(ClusterError) -> LoomWire.ShardResult {
        let endpoint = worker.options.endpoint
        let problem = run.computer.problem
        let m = run.computer.microBatch
        guard a.shardSampleCounts.allSatisfy({ Int($0) == m }), a.headScales.count == problem.losses.count else {
            throw .badWelcome(endpoint: endpoint, reason: "step \(a.step): micro-shards of \(a.shardSampleCounts) samples and \(a.headScales.count) head scales; this run has micro-batch \(m) and \(problem.losses.count) heads")
        }
        let data: ShardData
        if !a.sampleRecords.isEmpty {
            do throws(SampleRecordsError) {
                data = try SampleRecords.unpack(a.sampleRecords, ids: ids, pixels: problem.imageShape.elementCount,
                                                heads: problem.losses.count, targetWidths: SampleRecords.targetWidths(of: problem))
            } catch {
                throw .badWelcome(endpoint: endpoint, reason: "step \(a.step): \(error.explained(heads: problem.heads))")
            }
        } else if let local = worker.localData {
            data = try local.load(split: problem.config.data.trainSplit, ids: ids, heads: problem.heads)
        } else {
            throw .badWelcome(endpoint: endpoint, reason: "step \(a.step): the assignment has no sample records and this worker has no dataset")
        }
        let plan = StepPlan(step: Int(a.step), epoch: Int(a.epoch), stepInEpoch: 0, sampleIndices: ids,
                            microBatch: m, headScales: a.headScales)
        let block = ShardBlock(start: Int(a.firstShard), count: a.shardCount)
        // Leaf by leaf, with heartbeats in between, summed in the reduction tree's order:
        // bitwise the same as computing the whole block at once.
        var failure: TrainingError?
        let value: (ShardBlock) -> LoomTraining.ShardResult? = { leaf in
            guard leaf.count == 1 else { return nil }
            if failure != nil { return LoomTraining.ShardResult(parameterCount: 0, bufferCount: 0, headCount: 0) }
            let offset = (leaf.start - block.start) * m
            let slice = data.rows(offset..<(offset + m))
            defer { self.beatIfDue() }
            do {
                return try run.computer.compute(plan: plan, block: leaf, data: slice, parameters: self.parameters,
                                                buffers: self.buffers)
            } catch {
                failure = error as? TrainingError ?? TrainingError("\(error)")
                return LoomTraining.ShardResult(parameterCount: 0, bufferCount: 0, headCount: 0)
            }
        }
        let sum = ReductionTree.reduce(block, value: value, combine: { if failure == nil { $0.add($1) } })
        if let failure { throw .badWelcome(endpoint: endpoint, reason: "step \(a.step) block \(block): \(failure)") }
        guard let sum else { throw .badWelcome(endpoint: endpoint, reason: "step \(a.step): empty block \(block)") }
        var wire = sum.wire(runID: run.runID, step: a.step, epoch: a.epoch, weightsVersion: a.weightsVersion,
                            firstShard: a.firstShard, shardCount: UInt32(a.shardCount))
        if a.sharedResult, let slot = publishSharedGradient(sum.gradients) {
            wire.gradientSum = []
            wire.sharedGradient = slot
        }
        return wire
    }
}
