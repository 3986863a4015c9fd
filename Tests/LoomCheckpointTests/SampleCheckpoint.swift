// A small but complete checkpoint of the reference CNN's naming (c1, b1, f1), used by
// every test, and scratch-directory helpers.

import Foundation
import LoomCheckpoint
import LoomTestSupport

enum Sample {
    /// Deterministic, non-trivial floats (including negative zero and subnormals, to show
    /// the round trip is bitwise).
    static func values(_ count: Int, seed: Float) -> [Float] {
        (0..<count).map { i in
            switch i % 7 {
            case 0: return -0.0
            case 1: return Float.leastNonzeroMagnitude * Float(i)
            default: return sin(Float(i) * 0.37 + seed) * 3.1
            }
        }
    }

    static let model: [(String, [Int])] = [
        ("c1.weight", [4, 1, 3, 3]), ("c1.bias", [4]),
        ("b1.weight", [4]), ("b1.bias", [4]), ("b1.running_mean", [4]), ("b1.running_var", [4]),
        ("f1.weight", [3, 16]), ("f1.bias", [3]),
    ]

    static var expectation: CheckpointExpectation { CheckpointExpectation(model) }

    static func metrics(rows: Int, from start: Int = 0) -> MetricsHistory {
        var m = MetricsHistory()
        for r in start..<start + rows {
            m.append(ordered: [("step", Double(r * 10)), ("epoch", Double(r) / 4), ("lr", 0.1 / Double(r + 1)),
                               ("train_loss", 2.3 - 0.01 * Double(r)), ("val_accuracy/category", 0.5 + 0.001 * Double(r)),
                               ("ece/category", 0.03), ("samples_per_s", 1234.5), ("wall_s", Double(r) * 1.5)])
        }
        return m
    }

    /// A checkpoint at `step` whose weights depend on `seed`.
    static func contents(step: Int = 300, seed: Float = 0, metricsRows: Int = 3) -> CheckpointContents {
        let tensors = model.map { name, shape in
            NamedTensor(name: name, shape: shape, values: values(shape.reduce(1, *), seed: seed + Float(name.count)))
        }
        let paramCount = tensors.filter { !$0.name.contains("running") }.reduce(0) { $0 + $1.values.count }
        return CheckpointContents(
            runID: "00c0ffee12345678", step: step, epoch: 2, stepInEpoch: 17,
            config: "name: test\noptimizer:\n  kind: sgd\n  lr: 0.1\n", datasetFingerprint: "sha256:abcdef",
            model: tensors, batchNormLayers: ["b1"], numBatchesTracked: step,
            optimizer: OptimizerSnapshot(kind: "sgd", step: step,
                                         slots: ["momentum_buffer": values(paramCount, seed: 9 + seed)]),
            schedule: ScheduleSnapshot(kind: "sgdr", epoch: 2.53, tCur: 0.53, tI: 2, restarts: 1, lr: 0.0734),
            sampler: SamplerSnapshot(seed: 0xFEDC_BA98_7654_3210, epoch: 2, stepInEpoch: 17),
            rngStates: ["augment": 42, "dropout": UInt64.max],
            preprocessing: PreprocessingSnapshot(scale: 1.0 / 255, mean: [0.2860], std: [0.3530]),
            calibration: ["category": 1.37],
            metrics: metrics(rows: metricsRows),
            extraAttributes: ["host": "node-1", "note": "unit test"],
            createdUTC: "2025-01-31T12:00:00Z")
    }
}

/// A scratch directory removed when the value goes away.
final class ScratchDirectory {
    let path: String
    init(_ prefix: String = "loom-ckpt") throws {
        path = try TestPaths.temporaryDirectory(prefix).path
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Bit patterns, so that -0.0 vs 0.0 and NaN payloads count as differences.
func bits(_ v: [Float]) -> [UInt32] { v.map(\.bitPattern) }
