// Steps computed in this process, micro-shard by micro-shard, with the same ShardComputer a
// worker uses: `loom train --workers 0`, tests and benchmarks.

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
        return try computer.compute(work, data: data, parameters: state.parameters, buffers: state.buffers)
    }

    public func predict(split: String, indices: [Int], state: TrainingState, tta: Bool) throws(TrainingError) -> [[Float]] {
        let transforms: [TTATransform]
        do { transforms = tta ? try TTATransform.parse(state.problem.config.data.tta) : [] } catch { throw .dataset(error) }
        let data = try load(split: split, indices: indices, labels: false)
        return try data.images.withUnsafeBufferPointer { (images) throws(TrainingError) in
            try computer.predict(images: images.baseAddress!, count: indices.count, parameters: state.parameters,
                                 buffers: state.buffers, tta: transforms)
        }
    }

    /// Trunk features (n, F) and per-head logits (n, K) of `count` images given as stored
    /// pixels `(count, H, W, C)` uint8 (e.g. image files prepared like the dataset's).
    public func embed(images: [UInt8], count: Int, state: TrainingState) throws(TrainingError) -> (features: [Float], logits: [[Float]]) {
        try images.withUnsafeBufferPointer { (p) throws(TrainingError) in
            try computer.embed(images: p.baseAddress!, count: count, parameters: state.parameters, buffers: state.buffers)
        }
    }

    /// Trunk features (n, F) and per-head logits (n, K) of samples `indices` of `split`.
    public func embed(split: String, indices: [Int], state: TrainingState) throws(TrainingError) -> (features: [Float], logits: [[Float]]) {
        let data = try load(split: split, indices: indices, labels: false)
        return try data.images.withUnsafeBufferPointer { (images) throws(TrainingError) in
            try computer.embed(images: images.baseAddress!, count: indices.count, parameters: state.parameters, buffers: state.buffers)
        }
    }

    public func idle() {}

    /// Logits of `count` images given as stored pixels `(count, H, W, C)` uint8 (e.g. image
    /// files prepared like the dataset's), per head `(count, classes)`.
    public func predict(images: [UInt8], count: Int, state: TrainingState, tta: Bool) throws(TrainingError) -> [[Float]] {
        let transforms: [TTATransform]
        do { transforms = tta ? try TTATransform.parse(state.problem.config.data.tta) : [] } catch { throw .dataset(error) }
        return try images.withUnsafeBufferPointer { (p) throws(TrainingError) in
            try computer.predict(images: p.baseAddress!, count: count, parameters: state.parameters, buffers: state.buffers,
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
