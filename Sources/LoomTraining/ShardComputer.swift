// The worker's half of a step: from weights and a block of micro-shards to one ShardResult.
//
// Each micro-shard is computed on its own, into a zeroed gradient buffer, with the same
// kernels in the same order whoever runs it; a block of several micro-shards is then
// summed by `ReductionTree`. So the result for micro-shard i is a function of
// (weights, samples of i, epoch, step, seed, head scales) only.

import LoomData
import LoomKernels
import LoomModel

/// The data of a block's samples, as a worker receives or reads them, in the order of its
/// `ShardWork.sampleIDs` (or of the indices an evaluation asked for).
public struct ShardData: Sendable {
    /// Samples held.
    public var count: Int
    /// Images (n, H, W, C) uint8.
    public var images: [UInt8]
    /// Per head: n labels (-1 = not labelled); `[]` when only images were read.
    public var labels: [[Int32]]
    /// Per head: (n, K) targets (NaN = not labelled) for heads that `usesTargets`, empty for
    /// the others (or `[]` altogether when no head has targets).
    public var targets: [[Float]]

    public init(count: Int, images: [UInt8], labels: [[Int32]], targets: [[Float]] = []) {
        self.count = count; self.images = images; self.labels = labels; self.targets = targets
    }
}

public final class ShardComputer {
    public let problem: TrainingProblem
    public let microBatch: Int
    let workspace: Workspace
    private(set) var input: [Float]
    private var dlogits: [[Float]]
    /// Gradient buffers handed back (`recycle`), zeroed and reused by the next micro-shards.
    private var spareGradients: [[Float]] = []

    public init(problem: TrainingProblem, microBatch: Int) {
        self.problem = problem
        self.microBatch = microBatch
        workspace = problem.model.makeWorkspace(maxBatch: microBatch)
        input = [Float](repeating: 0, count: microBatch * problem.imageShape.elementCount)
        dlogits = problem.losses.map { [Float](repeating: 0, count: microBatch * $0.classes) }
    }

    /// Computes the micro-shards of `work` one by one, each into a zeroed gradient buffer,
    /// and sums them in `ReductionTree` order: the same bits whether the block is one
    /// micro-shard or many. `data` holds the block's samples in `work.sampleIDs` order;
    /// `afterEach` runs after every micro-shard (a worker sends its heartbeats there).
    public func compute(_ work: ShardWork, data: ShardData, parameters: [Float], buffers: [Float],
                        afterEach: () -> Void = {}) throws(TrainingError) -> ShardResult {
        try check(work, data: data, parameters: parameters, buffers: buffers)
        var failure: TrainingError?
        let wire = problem.config.cluster.wire
        let value: (ShardBlock) -> ShardResult? = { leaf in
            guard leaf.count == 1 else { return nil }
            if failure != nil { return ShardResult(parameterCount: 0, bufferCount: 0, headCount: 0) }
            defer { afterEach() }
            do throws(TrainingError) {
                var result = try self.computeMicroShard(work, leaf: leaf.start, data: data, parameters: parameters,
                                                        buffers: buffers)
                result.roundGradients(for: wire)
                return result
            } catch {
                failure = error
                return ShardResult(parameterCount: 0, bufferCount: 0, headCount: 0)
            }
        }
        let result = ReductionTree.reduce(work.block, value: value, combine: {
            if failure == nil { $0.combine($1, wire: wire) }
            self.keepSpare($1.gradients)
        })
        if let failure { throw failure }
        guard let result else { throw .workMismatch(block: work.block, step: work.step, "an empty block") }
        return result
    }

    /// Hands a result's gradient buffer back for the next micro-shards to compute into, once
    /// its caller is done with it (applied, sent). A gradient buffer is the size of the
    /// model's parameters, which for ResNet-18 (45 MB) is over glibc's largest mmap
    /// threshold: allocated afresh per micro-shard, it cost about 11,000 page faults and the
    /// kernel's page clearing each time (7% of a `loom bench` step at batch 16). Reused, it
    /// costs one memset of pages already mapped. A buffer still referenced elsewhere is
    /// copied on its first write, as any array: reuse never changes a result.
    public func recycle(_ result: ShardResult) {
        keepSpare(result.gradients)
    }

    private func keepSpare(_ gradients: [Float]) {
        guard gradients.count == problem.model.parameters.count, spareGradients.count < 2 else { return }
        spareGradients.append(gradients)
    }

    /// A zeroed gradient buffer: a spare one if there is one.
    private func zeroedGradients() -> [Float] {
        guard var g = spareGradients.popLast() else { return [Float](repeating: 0, count: problem.model.parameters.count) }
        g.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        return g
    }

    /// Whether `work`, `data` and the weights fit this computer and each other.
    func check(_ work: ShardWork, data: ShardData, parameters: [Float], buffers: [Float]) throws(TrainingError) {
        let m = work.microBatch
        let n = work.block.count * m
        guard m == microBatch else { throw .workMismatch(block: work.block, step: work.step, "micro-batch \(m), this computer was built for \(microBatch)") }
        guard work.headScales.count == problem.losses.count else {
            throw .workMismatch(block: work.block, step: work.step, "\(work.headScales.count) head scales for \(problem.losses.count) heads")
        }
        guard work.sampleIDs.count == n, data.count == n, data.images.count == n * problem.imageShape.elementCount,
              data.labels.count == problem.losses.count, data.labels.allSatisfy({ $0.count == n })
        else {
            throw .workMismatch(block: work.block, step: work.step, "data for \(data.count) samples (\(work.sampleIDs.count) ids) does not fit \(work.block.count) micro-shards of \(m)")
        }
        for (h, head) in problem.heads.enumerated() where head.usesTargets {
            let expected = n * problem.losses[h].classes
            guard data.targets.count == problem.losses.count, data.targets[h].count == expected else {
                let got = data.targets.count == problem.losses.count ? data.targets[h].count : 0
                throw .workMismatch(block: work.block, step: work.step, "head '\(head.name)' needs \(expected) target values (\(n) samples x \(problem.losses[h].classes)), got \(got)")
            }
        }
        guard parameters.count == problem.model.parameters.count, buffers.count == problem.model.buffers.count else {
            throw .weightsShape(parameters: parameters.count, buffers: buffers.count,
                                expectedParameters: problem.model.parameters.count, expectedBuffers: problem.model.buffers.count)
        }
    }

    /// Micro-shard `leaf` of `work`: rows `offset..<offset+m` of `data`.
    /// `completed` (overlap) is told each parameter range whose gradient is final, with the
    /// micro-shard's gradient buffer, while the backward pass goes on.
    func computeMicroShard(_ work: ShardWork, leaf: Int, data: ShardData,
                           parameters: [Float], buffers: [Float],
                           completed: ((Range<Int>, UnsafePointer<Float>) -> Void)? = nil) throws(TrainingError) -> ShardResult {
        let m = microBatch
        let offset = (leaf - work.block.start) * m
        let model = problem.model
        var result = ShardResult(gradients: zeroedGradients(),
                                 batchStatistics: [Float](repeating: 0, count: model.buffers.count),
                                 headSums: [Double](repeating: 0, count: problem.losses.count * HeadSums.width), shardCount: 0)
        let ids = Array(work.samples(ofLeaf: leaf))
        let pixels = problem.imageShape.elementCount
        data.images.withUnsafeBufferPointer { images in
            input.withUnsafeMutableBufferPointer { x in
                problem.pipeline.makeBatch(images: images.baseAddress! + offset * pixels, count: m, sampleIDs: ids,
                                           epoch: work.epoch, seed: work.seed,
                                           augment: problem.augments(epoch: work.epoch), into: x.baseAddress!)
            }
        }
        try run { () throws(ModelError) in
            try parameters.withUnsafeBufferPointer { (p) throws(ModelError) in
                try buffers.withUnsafeBufferPointer { (b) throws(ModelError) in
                    try input.withUnsafeBufferPointer { (x) throws(ModelError) in
                        try model.forward(parameters: p.baseAddress!, buffers: b.baseAddress!, input: x.baseAddress!,
                                          count: m, sampleIDs: ids, step: work.step,
                                          seed: work.seed, training: true, workspace: workspace)
                    }
                }
            }
        }
        for (h, loss) in problem.losses.enumerated() {
            let k = loss.classes
            let logits = workspace.logits(head: h)
            let sums: LossSums
            let correct: Int, labelled: Int
            if problem.heads[h].usesTargets {
                // Multilabel: dense (m, K) targets; accuracy counts labelled elements.
                (sums, correct, labelled) = data.targets[h].withUnsafeBufferPointer { t in
                    let rows = t.baseAddress! + offset * k
                    let sums = dlogits[h].withUnsafeMutableBufferPointer { d in
                        loss.evaluate(logits: logits, targets: .dense(rows), count: m, dlogits: d.baseAddress!)
                    }
                    let (correct, labelled) = elementAgreement(logits, rows, m * k)
                    return (sums, correct, labelled)
                }
            } else {
                let labels = Array(data.labels[h][offset..<(offset + m)])
                sums = labels.withUnsafeBufferPointer { y in
                    dlogits[h].withUnsafeMutableBufferPointer { d in
                        loss.evaluate(logits: logits, targets: .classes(y.baseAddress!), count: m, dlogits: d.baseAddress!)
                    }
                }
                correct = correctCount(logits, labels, k)
                labelled = sums.labelledRows
            }
            // Scale d(sum)/dlogits into d(total mean loss)/dlogits for this head.
            let scale = work.headScales[h]
            let dst = workspace.dlogits(head: h)
            dlogits[h].withUnsafeBufferPointer { d in
                for i in 0..<(m * k) { dst[i] = d[i] * scale }
            }
            let base = h * HeadSums.width
            result.headSums[base + HeadSums.Field.loss.rawValue] = sums.loss
            result.headSums[base + HeadSums.Field.normalizer.rawValue] = sums.normalizer
            result.headSums[base + HeadSums.Field.correct.rawValue] = Double(correct)
            result.headSums[base + HeadSums.Field.labelled.rawValue] = Double(labelled)
        }
        try run { () throws(ModelError) in
            try parameters.withUnsafeBufferPointer { (p) throws(ModelError) in
                try result.gradients.withUnsafeMutableBufferPointer { (g) throws(ModelError) in
                    let out = g.baseAddress!
                    try model.backward(parameters: p.baseAddress!, workspace: workspace, gradients: out,
                                       completed: completed.map { report in { range in report(range, UnsafePointer(out)) } })
                }
            }
        }
        let stats = workspace.batchStatistics
        for i in 0..<result.batchStatistics.count { result.batchStatistics[i] = stats[i] }
        result.shardCount = 1
        return result
    }

    /// Forward only, evaluation mode: each head's logits (n, K) for `images` (n, H, W, C).
    /// With `tta` transforms, the logits are log of the mean probability over the views
    /// (softmax heads) or the logit of the mean probability (binary / multilabel heads).
    /// One evaluation-mode forward pass of `count` (<= microBatch) images into the workspace.
    func forwardBatch(images: UnsafePointer<UInt8>, count c: Int, parameters: [Float], buffers: [Float]) throws(TrainingError) {
        input.withUnsafeMutableBufferPointer { x in
            problem.pipeline.makeTTAView(images: images, count: c, transform: .identity, into: x.baseAddress!)
        }
        try run { () throws(ModelError) in
            try parameters.withUnsafeBufferPointer { (p) throws(ModelError) in
                try buffers.withUnsafeBufferPointer { (b) throws(ModelError) in
                    try input.withUnsafeBufferPointer { (x) throws(ModelError) in
                        try problem.model.forward(parameters: p.baseAddress!, buffers: b.baseAddress!,
                                                  input: x.baseAddress!, count: c, training: false, workspace: workspace)
                    }
                }
            }
        }
    }

    public func predict(images: UnsafePointer<UInt8>, count n: Int, parameters: [Float], buffers: [Float],
                        tta: [TTATransform] = []) throws(TrainingError) -> [[Float]] {
        var out = problem.losses.map { [Float](repeating: 0, count: n * $0.classes) }
        let pixels = problem.imageShape.elementCount
        var start = 0
        while start < n {
            let c = min(microBatch, n - start)
            let views = tta.isEmpty ? [TTATransform.identity] : tta
            var probabilitySums = problem.losses.map { [Double](repeating: 0, count: c * $0.classes) }
            for view in views {
                input.withUnsafeMutableBufferPointer { x in
                    problem.pipeline.makeTTAView(images: images + start * pixels, count: c, transform: view,
                                                 into: x.baseAddress!)
                }
                try run { () throws(ModelError) in
                    try parameters.withUnsafeBufferPointer { (p) throws(ModelError) in
                        try buffers.withUnsafeBufferPointer { (b) throws(ModelError) in
                            try input.withUnsafeBufferPointer { (x) throws(ModelError) in
                                try problem.model.forward(parameters: p.baseAddress!, buffers: b.baseAddress!,
                                                          input: x.baseAddress!, count: c, training: false,
                                                          workspace: workspace)
                            }
                        }
                    }
                }
                for (h, loss) in problem.losses.enumerated() {
                    let k = loss.classes
                    let logits = workspace.logits(head: h)
                    if tta.isEmpty {
                        for i in 0..<(c * k) { out[h][start * k + i] = logits[i] }
                    } else {
                        accumulateProbabilities(logits, rows: c, classes: k, softmax: problem.heads[h].kind == .softmax,
                                                into: &probabilitySums[h])
                    }
                }
            }
            if !tta.isEmpty {
                for (h, loss) in problem.losses.enumerated() {
                    let k = loss.classes
                    let softmax = problem.heads[h].kind == .softmax
                    for i in 0..<(c * k) {
                        let p = max(probabilitySums[h][i] / Double(views.count), 1e-12)
                        out[h][start * k + i] = Float(softmax ? _log(p) : _log(p / max(1 - p, 1e-12)))
                    }
                }
            }
            start += c
        }
        return out
    }
}

extension ShardComputer {
    /// Evaluation-mode trunk features (n, F) and per-head logits (n, K) of `count` images,
    /// micro-batch by micro-batch (no test-time augmentation).
    public func embed(images: UnsafePointer<UInt8>, count n: Int, parameters: [Float],
                      buffers: [Float]) throws(TrainingError) -> (features: [Float], logits: [[Float]]) {
        let f = problem.model.featureCount
        var features = [Float](repeating: 0, count: n * f)
        var logits = problem.losses.map { [Float](repeating: 0, count: n * $0.classes) }
        let pixels = problem.imageShape.elementCount
        var start = 0
        while start < n {
            let c = min(microBatch, n - start)
            try forwardBatch(images: images + start * pixels, count: c, parameters: parameters, buffers: buffers)
            let trunk = workspace.features()
            for i in 0..<(c * f) { features[start * f + i] = trunk[i] }
            for (h, loss) in problem.losses.enumerated() {
                let out = workspace.logits(head: h)
                for i in 0..<(c * loss.classes) { logits[h][start * loss.classes + i] = out[i] }
            }
            start += c
        }
        return (features, logits)
    }
}

/// Runs a model call; its error becomes the `TrainingError` that keeps it.
private func run(_ body: () throws(ModelError) -> Void) throws(TrainingError) {
    do { try body() } catch { throw .model(error) }
}

/// Rows whose arg-max (softmax) or sign (binary, 1 output) matches the label.
func correctCount(_ logits: UnsafePointer<Float>, _ labels: [Int32], _ k: Int) -> Int {
    var correct = 0
    for (i, y) in labels.enumerated() where y >= 0 {
        if k == 1 {
            if (logits[i] > 0 ? 1 : 0) == y { correct += 1 }
        } else {
            var best = 0
            for j in 1..<k where logits[i * k + j] > logits[i * k + best] { best = j }
            if best == Int(y) { correct += 1 }
        }
    }
    return correct
}

/// Labelled (non-NaN) elements of `count` targets, and those whose logit sign matches the
/// target (positive when the target is > 0.5).
func elementAgreement(_ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Float>, _ count: Int) -> (correct: Int, labelled: Int) {
    var correct = 0, labelled = 0
    for e in 0..<count where !targets[e].isNaN {
        labelled += 1
        if (logits[e] > 0) == (targets[e] > 0.5) { correct += 1 }
    }
    return (correct, labelled)
}

private func accumulateProbabilities(_ logits: UnsafePointer<Float>, rows: Int, classes k: Int, softmax: Bool,
                                     into sums: inout [Double]) {
    var logp = [Double](repeating: 0, count: k)
    for r in 0..<rows {
        if softmax {
            StableMath.logSoftmax(logits + r * k, k, into: &logp)
            for j in 0..<k { sums[r * k + j] += _exp(logp[j]) }
        } else {
            for j in 0..<k { sums[r * k + j] += StableMath.sigmoid(Double(logits[r * k + j])) }
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _exp(_ x: Double) -> Double { Glibc.exp(x) }
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
#else
import Foundation
@inline(__always) func _exp(_ x: Double) -> Double { Foundation.exp(x) }
@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
#endif
