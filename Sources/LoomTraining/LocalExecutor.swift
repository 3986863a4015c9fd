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
        let whole = ShardBlock(start: 0, count: plan.shardCount)
        let data = try load(split: state.problem.config.data.trainSplit, indices: Array(plan.sampleIndices))
        return try computer.compute(plan: plan, block: whole, data: data, parameters: state.parameters, buffers: state.buffers)
    }

    public func predict(split: String, indices: [Int], state: TrainingState, tta: Bool) throws(TrainingError) -> [[Float]] {
        let transforms: [TTATransform]
        do { transforms = tta ? try TTATransform.parse(state.problem.config.data.tta) : [] } catch { throw TrainingError("\(error)") }
        let data = try load(split: split, indices: indices, labels: false)
        return try data.images.withUnsafeBufferPointer { (images) throws(TrainingError) in
            try computer.predict(images: images.baseAddress!, count: indices.count, parameters: state.parameters,
                                 buffers: state.buffers, tta: transforms)
        }
    }

    public func idle() {}

    /// Logits of `count` images given as stored pixels `(count, H, W, C)` uint8 (e.g. image
    /// files prepared like the dataset's), per head `(count, classes)`.
    public func predict(images: [UInt8], count: Int, state: TrainingState, tta: Bool) throws(TrainingError) -> [[Float]] {
        let transforms: [TTATransform]
        do { transforms = tta ? try TTATransform.parse(state.problem.config.data.tta) : [] } catch { throw TrainingError("\(error)") }
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
            guard labels else { return ShardData(sampleIDs: indices, images: images, labels: []) }
            if truthCache[name] == nil {
                truthCache[name] = try GroundTruth.read(split, heads: problem.heads)
            }
            let truth = truthCache[name]!.rows(indices)
            return ShardData(sampleIDs: indices, images: images, labels: truth.labels, targets: truth.targets)
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError("\(error)")
        }
    }
}
