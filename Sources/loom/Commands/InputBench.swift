import Foundation
import Logging
import LoomConfig
import LoomData
import LoomTraining

/// `loom bench --input CONFIG`: what reading and augmenting a streamed dataset costs next to
/// a training step of the config's model, measured in one run on the same batches.
enum InputBench {
    /// Measures `steps` training steps of `config` on its dataset opened in streaming mode
    /// (no split held in memory): input = reading the step's samples from the HDF5 file and
    /// augmenting them into the model's input; step = the whole local step (which reads and
    /// augments again, then runs forward, backward and the update of every micro-shard).
    static func run(config: RunConfig, steps: Int, logger: Logger) throws {
        let dataset = try Dataset(path: config.data.path, residentLimit: 0)
        let run = try TrainingRun(config: config, dataset: dataset, logger: logger)
        let executor = LocalExecutor(problem: run.problem, dataset: dataset)
        let pipeline = run.problem.pipeline
        let shape = run.problem.imageShape
        var input = [Float](repeating: 0, count: config.training.batchSize * shape.elementCount)
        var inputSeconds = 0.0, stepSeconds = 0.0
        let measured = min(steps, run.state.lastStep)
        guard measured > 1 else { throw CLIError("--input needs a run of at least 2 steps") }
        for s in 0..<measured {
            let plan = run.state.plan(step: s)
            let t0 = Date()
            let data = try executor.load(split: config.data.trainSplit, indices: plan.sampleIndices, labels: false)
            data.images.withUnsafeBufferPointer { images in
                input.withUnsafeMutableBufferPointer {
                    pipeline.makeBatch(images: images.baseAddress!, count: plan.sampleIndices.count, sampleIDs: plan.sampleIndices,
                                       epoch: plan.epoch, seed: config.training.seed, augment: true, into: $0.baseAddress!)
                }
            }
            let t1 = Date()
            _ = try executor.execute(plan: plan, state: run.state)
            let t2 = Date()
            if s > 0 {   // the first step warms caches and buffers
                inputSeconds += t1.timeIntervalSince(t0)
                stepSeconds += t2.timeIntervalSince(t1)
            }
        }
        let n = Double(measured - 1)
        print(String(format: "input: %@ (%@), streamed from the file, batch %d, %d steps", config.data.path, "\(shape)",
                     config.training.batchSize, measured - 1))
        print(String(format: "read + augment %.2f ms a step, training step %.2f ms: input = %.1f%% of a step",
                     1000 * inputSeconds / n, 1000 * stepSeconds / n, 100 * inputSeconds / max(stepSeconds, 1e-12)))
    }
}
