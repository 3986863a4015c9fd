// Comparison of two checkpoints for `loom diff`: are the weights bitwise identical, and
// if not, where do they first differ and by how much.

/// How one tensor present in both checkpoints with the same shape differs.
public struct TensorDifference: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    /// Elements whose bit patterns differ (so -0.0 vs 0.0 counts, and NaN vs NaN may).
    public var differingCount: Int
    /// `max |a - b|` over all elements.
    public var maxAbsDiff: Double
    /// `max |a - b| / max(|a|, |b|)` over elements where that denominator is not 0.
    public var maxRelDiff: Double
    /// First differing element: flat row-major index, its multi-index, and both values.
    public var firstIndex: Int?
    public var firstMultiIndex: [Int]?
    public var valueA: Float?
    public var valueB: Float?

    public var isIdentical: Bool { differingCount == 0 }
}

/// Two tensors with the same name and different shapes.
public struct ShapeMismatch: Equatable, Sendable {
    public var name: String
    public var shapeA: [Int]
    public var shapeB: [Int]

    public init(name: String, shapeA: [Int], shapeB: [Int]) {
        self.name = name; self.shapeA = shapeA; self.shapeB = shapeB
    }
}

/// The result of comparing checkpoints A and B.
public struct CheckpointDiff: Sendable {
    public var pathA: String
    public var pathB: String
    /// Model weights and batch-norm buffers (incl. `num_batches_tracked`) are bitwise equal
    /// and the two hold the same tensors. Optimizer slots, metrics and config are reported
    /// but do not count.
    public var identical: Bool
    /// Tensors in both with equal shapes: model tensors in A's order, then optimizer slots.
    public var tensors: [TensorDifference]
    public var onlyInA: [String]
    public var onlyInB: [String]
    public var shapeMismatches: [ShapeMismatch]
    /// `- line` / `+ line` changes from A's config to B's; empty when equal.
    public var configDiff: [String]
    /// Scalar fields that differ, e.g. `step: 100 vs 200`.
    public var fieldDifferences: [String]

    /// Reads both files leniently (non-finite values are compared, not refused).
    public static func compare(_ a: String, _ b: String) throws(CheckpointError) -> CheckpointDiff {
        let ca = try CheckpointLoader.load(a, strict: false).contents
        let cb = try CheckpointLoader.load(b, strict: false).contents
        func named(_ c: CheckpointContents) -> [NamedTensor] {
            c.model + c.optimizer.slots.keys.sorted().map {
                NamedTensor(name: "optimizer/" + $0, shape: [c.optimizer.slots[$0]!.count], values: c.optimizer.slots[$0]!)
            }
        }
        let ta = named(ca), tb = named(cb)
        let byNameB = Dictionary(tb.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        let namesA = Set(ta.map(\.name))
        var diff = CheckpointDiff(pathA: a, pathB: b, identical: true, tensors: [], onlyInA: [],
                                  onlyInB: tb.map(\.name).filter { !namesA.contains($0) }, shapeMismatches: [],
                                  configDiff: LineDiff.diff(ca.config, cb.config), fieldDifferences: [])
        for t in ta {
            guard let u = byNameB[t.name] else { diff.onlyInA.append(t.name); continue }
            guard t.shape == u.shape else {
                diff.shapeMismatches.append(ShapeMismatch(name: t.name, shapeA: t.shape, shapeB: u.shape)); continue
            }
            diff.tensors.append(compareValues(t, u))
        }
        diff.fieldDifferences = fields(ca, cb)
        let modelNames = Set(ca.model.map(\.name) + cb.model.map(\.name))
        diff.identical = diff.onlyInA.allSatisfy { !modelNames.contains($0) }
            && diff.onlyInB.allSatisfy { !modelNames.contains($0) }
            && diff.shapeMismatches.allSatisfy { !modelNames.contains($0.name) }
            && diff.tensors.allSatisfy { !modelNames.contains($0.name) || $0.isIdentical }
            && ca.batchNormLayers == cb.batchNormLayers && ca.numBatchesTracked == cb.numBatchesTracked
        return diff
    }

    static func compareValues(_ a: NamedTensor, _ b: NamedTensor) -> TensorDifference {
        var d = TensorDifference(name: a.name, shape: a.shape, differingCount: 0, maxAbsDiff: 0, maxRelDiff: 0)
        for i in a.values.indices where a.values[i].bitPattern != b.values[i].bitPattern {
            let x = Double(a.values[i]), y = Double(b.values[i])
            d.differingCount += 1
            let abs = Swift.abs(x - y)
            d.maxAbsDiff = abs.isNaN ? .nan : (d.maxAbsDiff.isNaN ? d.maxAbsDiff : max(d.maxAbsDiff, abs))
            let scale = max(Swift.abs(x), Swift.abs(y))
            if scale > 0, !abs.isNaN { d.maxRelDiff = max(d.maxRelDiff, abs / scale) }
            if d.firstIndex == nil {
                d.firstIndex = i; d.firstMultiIndex = multiIndex(i, shape: a.shape)
                d.valueA = a.values[i]; d.valueB = b.values[i]
            }
        }
        return d
    }

    /// Row-major flat index → per-dimension index.
    static func multiIndex(_ flat: Int, shape: [Int]) -> [Int] {
        var rest = flat
        var out = Array(repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
            out[d] = rest % shape[d]; rest /= shape[d]
        }
        return out
    }

    private static func fields(_ a: CheckpointContents, _ b: CheckpointContents) -> [String] {
        var out: [String] = []
        func check<T: Equatable>(_ name: String, _ x: T, _ y: T) { if x != y { out.append("\(name): \(x) vs \(y)") } }
        check("run_id", a.runID, b.runID)
        check("step", a.step, b.step)
        check("epoch", a.epoch, b.epoch)
        check("dataset_fingerprint", a.datasetFingerprint, b.datasetFingerprint)
        check("blas_core", a.blasCore, b.blasCore)
        check("loom_kernel_revision", a.loomKernelRevision, b.loomKernelRevision)
        check("num_batches_tracked", a.numBatchesTracked, b.numBatchesTracked)
        check("batch_norm_layers", a.batchNormLayers, b.batchNormLayers)
        check("optimizer.kind", a.optimizer.kind, b.optimizer.kind)
        check("optimizer.step", a.optimizer.step, b.optimizer.step)
        check("schedule", a.schedule, b.schedule)
        check("sampler", a.sampler, b.sampler)
        check("rng", a.rngStates, b.rngStates)
        check("preprocessing", a.preprocessing, b.preprocessing)
        check("calibration", a.calibration, b.calibration)
        if a.metrics.rowCount != b.metrics.rowCount {
            out.append("metrics rows: \(a.metrics.rowCount) vs \(b.metrics.rowCount)")
        }
        return out
    }
}
