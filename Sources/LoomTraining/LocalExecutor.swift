// Steps computed in this process, micro-shard by micro-shard, with the same ShardComputer a
// worker uses: `loom train --workers 0`, tests and benchmarks.

import Foundation
import LoomData

public final class LocalExecutor: StepExecutor {
    private let dataset: Dataset
    private let computer: ShardComputer
    private var truthCache: [String: GroundTruth] = [:]

    public init(problem: TrainingProblem, dataset: Dataset) {
        self.dataset = dataset
        computer = ShardComputer(problem: problem, microBatch: problem.config.training.microBatch)
    }

    public func execute(plan: StepPlan, state: TrainingState) throws(TrainingError) -> ShardResult {
        let work = plan.work(ShardBlock(start: 0, count: plan.shardCount), seed: state.problem.config.training.seed)
        let data = try load(split: state.problem.config.data.trainSplit, indices: work.sampleIDs)
        return try computer.compute(work, data: data, parameters: state.computeParameters, buffers: state.buffers)
    }

    public func recycle(_ result: ShardResult) { computer.recycle(result) }

    /// Asked between two chunks of a prediction: true gives it up with
    /// `TrainingError.stopRequested` (SIGTERM, SIGINT). `TrainingRun.run` sets it to its
    /// `RunControl` while it runs; commands that predict set their own.
    public var shouldStop: (@Sendable () -> Bool)?
    /// Called after each chunk of a prediction with the samples done and the total.
    public var onPredictProgress: ((Int, Int) -> Void)?
    /// Seconds of work a prediction chunk aims at: how long a stop request may wait.
    public var chunkSeconds = 0.2

    /// Logits of `indices`, read and computed in chunks of whole micro-batches, so that a
    /// stop request is seen within about `chunkSeconds` whatever the model and a split is
    /// never held in memory whole. The first chunk is one micro-batch; the next ones are
    /// sized from its time. Each sample's logits come from the same micro-batch
    /// positions as in one call (`ShardComputer.predict` works micro-batch by micro-batch),
    /// so the bits do not depend on the chunks.
    public func predict(split: String, indices: [Int], state: TrainingState, tta: Bool) throws(TrainingError) -> [[Float]] {
        let transforms: [TTATransform]
        do { transforms = tta ? try TTATransform.parse(state.problem.config.data.tta) : [] } catch { throw .dataset(error) }
        let micro = max(1, state.problem.config.training.microBatch)
        var out = state.problem.losses.map { [Float](repeating: 0, count: indices.count * $0.classes) }
        var start = 0
        var rows = micro
        while start < indices.count {
            if shouldStop?() == true { throw .stopRequested }
            let chunk = Array(indices[start..<min(indices.count, start + rows)])
            let began = Date()
            let data = try load(split: split, indices: chunk, labels: false)
            let logits = try data.images.withUnsafeBufferPointer { (images) throws(TrainingError) in
                try computer.predict(images: images.baseAddress!, count: chunk.count, parameters: state.computeParameters,
                                     buffers: state.buffers, tta: transforms)
            }
            for (h, loss) in state.problem.losses.enumerated() {
                let k = loss.classes
                out[h].withUnsafeMutableBufferPointer { o in
                    logits[h].withUnsafeBufferPointer { l in
                        (o.baseAddress! + start * k).update(from: l.baseAddress!, count: chunk.count * k)
                    }
                }
            }
            start += chunk.count
            onPredictProgress?(start, indices.count)
            let perSample = Date().timeIntervalSince(began) / Double(chunk.count)
            let fit = perSample > 0 ? Int(chunkSeconds / perSample) : 4096
            rows = min(max(1, fit / micro), max(1, 4096 / micro)) * micro
        }
        return out
    }

    /// Trunk features (n, F) and per-head logits (n, K) of `count` images given as stored
    /// pixels `(count, H, W, C)` uint8 (e.g. image files prepared like the dataset's).
    public func embed(images: [UInt8], count: Int, state: TrainingState) throws(TrainingError) -> (features: [Float], logits: [[Float]]) {
        try images.withUnsafeBufferPointer { (p) throws(TrainingError) in
            try computer.embed(images: p.baseAddress!, count: count, parameters: state.computeParameters, buffers: state.buffers)
        }
    }

    /// Trunk features (n, F) and per-head logits (n, K) of samples `indices` of `split`.
    public func embed(split: String, indices: [Int], state: TrainingState) throws(TrainingError) -> (features: [Float], logits: [[Float]]) {
        let data = try load(split: split, indices: indices, labels: false)
        return try data.images.withUnsafeBufferPointer { (images) throws(TrainingError) in
            try computer.embed(images: images.baseAddress!, count: indices.count, parameters: state.computeParameters, buffers: state.buffers)
        }
    }

    public func idle() {}

    /// Logits of `count` images given as stored pixels `(count, H, W, C)` uint8 (e.g. image
    /// files prepared like the dataset's), per head `(count, classes)`.
    public func predict(images: [UInt8], count: Int, state: TrainingState, tta: Bool) throws(TrainingError) -> [[Float]] {
        let transforms: [TTATransform]
        do { transforms = tta ? try TTATransform.parse(state.problem.config.data.tta) : [] } catch { throw .dataset(error) }
        return try images.withUnsafeBufferPointer { (p) throws(TrainingError) in
            try computer.predict(images: p.baseAddress!, count: count, parameters: state.computeParameters, buffers: state.buffers,
                                 tta: transforms)
        }
    }

    /// Images, labels and targets of `indices` from `split`.
    public func load(split name: String, indices: [Int], labels: Bool = true) throws(TrainingError) -> ShardData {
        let problem = computer.problem
        do {
            let split = try dataset.split(name)
            var images = [UInt8](repeating: 0, count: indices.count * split.imageShape.elementCount)
            try images.withUnsafeMutableBufferPointer { try split.readImages(indices: indices, into: $0.baseAddress!) }
            guard labels else { return ShardData(count: indices.count, images: images, labels: []) }
            if truthCache[name] == nil {
                truthCache[name] = try GroundTruth.read(split, heads: problem.heads)
            }
            let truth = truthCache[name]!.rows(indices)
            return ShardData(count: indices.count, images: images, labels: truth.labels, targets: truth.targets)
        } catch let error as TrainingError {
            throw error
        } catch let error as DatasetError {
            throw .dataset(error)
        } catch {
            throw .cluster(what: "reading split '\(name)'", cause: error)
        }
    }
}
