// Training throughput on synthetic data, for `loom bench`: the same forward + softmax CE +
// backward per micro-shard that a worker runs, single-threaded, no I/O.
import LoomKernels

/// Measures how fast one core trains a model.
public enum TrainingBenchmark {
    /// Trains `model` on random inputs and labels for about `seconds` (after one warm-up
    /// step): each step of `batch` samples is cut into micro-shards of `microBatch`, each
    /// run forward, through softmax cross-entropy on every head, and backward, accumulating
    /// one gradient buffer. Returns samples/s and the achieved GFLOP/s, counting 3× the
    /// forward FLOPs per sample (forward, input gradient, weight gradient).
    public static func run(model: Model, batch: Int, microBatch: Int, seconds: Double)
        -> (samplesPerSecond: Double, gflops: Double) {
        BLAS.useSingleThread()
        let batch = max(batch, 1)
        let micro = min(max(microBatch, 1), batch)
        let workspace = model.makeWorkspace(maxBatch: micro)
        let initial = model.initialParameters(seed: 1)
        let parameters = initial.parameters
        var buffers = initial.buffers
        var gradients = [Float](repeating: 0, count: model.parameters.count)
        var random = KeyedRandom(seed: 1, purpose: .dataset, keys: [UInt64(batch)])
        let inputs = (0..<(batch * model.inputCount)).map { _ in random.nextFloat() }
        let labels = model.headOutputs.map { k in (0..<batch).map { _ in Int32(random.nextInt(below: k)) } }
        let sampleIDs = (0..<UInt64(batch)).map { $0 }
        let scale = 1 / Float(batch)

        func step(_ index: UInt64) {
            for i in gradients.indices { gradients[i] = 0 }
            var first = 0
            while first < batch {
                let count = min(micro, batch - first)
                parameters.withUnsafeBufferPointer { p in
                    buffers.withUnsafeMutableBufferPointer { b in
                        gradients.withUnsafeMutableBufferPointer { g in
                            inputs.withUnsafeBufferPointer { x in
                                try? model.forward(parameters: p.baseAddress!, buffers: b.baseAddress!,
                                                   input: x.baseAddress! + first * model.inputCount, count: count,
                                                   sampleIDs: model.hasDropout ? Array(sampleIDs[first..<(first + count)]) : [],
                                                   step: index, training: true, workspace: workspace)
                            }
                            for head in model.headOutputs.indices {
                                let k = model.headOutputs[head]
                                let dlogits = workspace.dlogits(head: head)
                                labels[head].withUnsafeBufferPointer { y in
                                    _ = try? softmaxCrossEntropy(dlogits: dlogits, logits: workspace.logits(head: head),
                                                                 labels: y.baseAddress! + first, batch: count, classes: k)
                                }
                                for i in 0..<(count * k) { dlogits[i] *= scale }
                            }
                            try? model.backward(parameters: p.baseAddress!, workspace: workspace, gradients: g.baseAddress!)
                            model.applyBatchStatistics(workspace.batchStatistics, to: b.baseAddress!)
                        }
                    }
                }
                first += count
            }
        }

        step(0)
        var steps = 0
        let clock = Stopwatch()
        repeat {
            steps += 1
            step(UInt64(steps))
        } while clock.seconds < seconds
        let elapsed = clock.seconds
        let samplesPerSecond = Double(steps * batch) / elapsed
        let gflops = samplesPerSecond * 3 * Double(model.forwardFLOPsPerSample) / 1e9
        return (samplesPerSecond, gflops)
    }
}
