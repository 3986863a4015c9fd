// `loom bench` without --workers: training throughput of one process on synthetic data,
// and the block of a step that `loom bench-barrier` children compute.

import Foundation
import LoomConfig
import LoomData
import LoomKernels
import LoomModel
import LoomTraining

/// The training of `loom bench` on synthetic data, through the real step code: one block of
/// a step's micro-shards computed on this thread, then the optimizer step and the batch-norm
/// statistics, as a process with the whole batch (or its block of it) would take them.
public final class SyntheticTraining {
    public let problem: TrainingProblem
    public let block: ShardBlock
    private let computer: ShardComputer
    private let optimizer: Optimizer
    private let data: ShardData
    private let work: ShardWork
    private var parameters: [Float]
    private var buffers: [Float]

    /// `block` of the micro-shards of `config`'s batch (all of them when nil).
    public init(config: RunConfig, block: ShardBlock? = nil) throws {
        problem = try TrainingProblem.synthetic(config: config)
        let b = config.training.batchSize, m = config.training.microBatch
        self.block = block ?? ShardBlock(start: 0, count: b / m)
        let n = self.block.count * m
        computer = ShardComputer(problem: problem, microBatch: m)
        (parameters, buffers) = problem.model.initialParameters(seed: 1)
        optimizer = try Optimizer(config: config.optimizer, parameterCount: parameters.count)
        var rng = KeyedRandom(seed: 3, purpose: .dataset)
        let images = (0..<(n * problem.imageShape.elementCount)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let labels = problem.heads.map { h in (0..<n).map { _ in Int32(rng.nextInt(below: h.classes)) } }
        data = ShardData(count: n, images: images, labels: labels,
                         targets: GroundTruth.synthetic(heads: problem.heads, count: n).targets)
        work = StepPlan(step: 0, epoch: 0, stepInEpoch: 0, sampleIndices: Array(0..<b), microBatch: m,
                        headScales: problem.heads.map { _ in 1 / Float(b) }).work(self.block, seed: 1)
    }

    public func step() throws {
        let r = try computer.compute(work, data: data, parameters: parameters, buffers: buffers)
        optimizer.step(weights: &parameters, gradients: r.gradients, lr: 0.01)
        let stats = r.batchStatistics.map { $0 / Float(block.count) }
        let model = problem.model
        stats.withUnsafeBufferPointer { s in
            buffers.withUnsafeMutableBufferPointer { model.applyBatchStatistics(s.baseAddress!, to: $0.baseAddress!) }
        }
        computer.recycle(r)
    }
}

/// Single-process training throughput on synthetic data.
public enum TrainingThroughput {
    public struct Figures {
        public var samplesPerSecond: Double; public var gflops: Double; public var forwardFLOPs: Int
        /// Trainable parameters (to check a PyTorch twin against) and the depthwise layers.
        public var parameters: Int; public var depthwiseShapes: [DepthwiseShape]
    }

    public static func measure(config: RunConfig, seconds: Double) throws -> Figures {
        let training = try SyntheticTraining(config: config)
        let b = config.training.batchSize
        try training.step()  // warm-up
        let start = Date()
        var steps = 0
        while Date().timeIntervalSince(start) < seconds || steps < 3 {
            try training.step()
            steps += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        let sps = Double(steps * b) / elapsed
        let flops = training.problem.model.forwardFLOPsPerSample
        let model = training.problem.model
        return Figures(samplesPerSecond: sps, gflops: sps * 3 * Double(flops) / 1e9, forwardFLOPs: flops,
                       parameters: model.parameters.count, depthwiseShapes: model.depthwiseShapes)
    }
}

