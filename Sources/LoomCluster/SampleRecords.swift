// The record layout of `Assignment.sampleRecords`, for workers without the dataset file.
//
// Training assignment, one record per sample in `sampleIndices` order:
//     image uint8 (H, W, C)
//   | label int32 little-endian per head, in head order (-1 for heads trained on targets)
//   | targets float32 little-endian, K_h per head that `usesTargets`, in head order
//     (in [0, 1], NaN = not labelled: `GroundTruth.isValidTarget`, checked on unpack)
// A run without multilabel heads has no target bytes: its records are image + labels.
// Evaluation assignment: the image bytes only.

import LoomTraining

/// Why a worker refuses the sample records of an assignment.
public enum SampleRecordsError: Error, Equatable, CustomStringConvertible, Sendable {
    /// `bytes` are not `samples` records of `recordSize` bytes: the coordinator and the
    /// worker disagree on the run's images or heads.
    case size(bytes: Int, samples: Int, recordSize: Int)
    /// Target `element` of head `head` (an index in head order) of the record of dataset
    /// sample `sample` is `value`, which no dataset file may hold (`GroundTruth.isValidTarget`).
    case target(sample: Int, head: Int, element: Int, value: Float)

    public var description: String { explained(heads: []) }

    /// The message, naming the head and its label when `heads` (the run's, in order) has them.
    public func explained(heads: [ResolvedHead]) -> String {
        switch self {
        case let .size(bytes, samples, recordSize):
            return "sample records of \(bytes) bytes for \(samples) samples; this run's images and heads make records of \(recordSize) bytes"
        case let .target(sample, h, element, value):
            let head = h < heads.count ? heads[h] : nil
            let label = head.flatMap { element < $0.classNames.count ? " ('\($0.classNames[element])')" : nil } ?? ""
            return "the record of sample \(sample) has target \(value) for label \(element)\(label) of head "
                + (head.map { "'\($0.name)'" } ?? "\(h)") + "; targets must be in [0, 1], or NaN for not labelled"
        }
    }
}

public enum SampleRecords {
    /// Bytes per training record: `targetWidths[h]` is K of head h when it has targets, else 0.
    public static func trainingRecordSize(pixels: Int, heads: Int, targetWidths: [Int] = []) -> Int {
        pixels + 4 * heads + 4 * targetWidths.reduce(0, +)
    }

    /// Target floats per record of each head of `problem` (0 for heads trained on labels).
    public static func targetWidths(of problem: TrainingProblem) -> [Int] {
        zip(problem.heads, problem.losses).map { $0.usesTargets ? $1.classes : 0 }
    }

    /// Packs `images` (n, H, W, C), per-head labels (heads × n) and per-head targets
    /// (`ShardData.targets`: (n, K) or empty per head, or `[]` for none) into n records.
    public static func pack(images: [UInt8], labels: [[Int32]], targets: [[Float]] = [], pixels: Int) -> [UInt8] {
        let n = pixels == 0 ? 0 : images.count / pixels
        let widths = targets.map { n == 0 ? 0 : $0.count / n }
        let size = trainingRecordSize(pixels: pixels, heads: labels.count, targetWidths: widths)
        var out = [UInt8](repeating: 0, count: n * size)
        out.withUnsafeMutableBufferPointer { o in
            images.withUnsafeBufferPointer { img in
                for i in 0..<n {
                    let base = i * size
                    UnsafeMutableRawPointer(o.baseAddress! + base)
                        .copyMemory(from: img.baseAddress! + i * pixels, byteCount: pixels)
                    for (h, headLabels) in labels.enumerated() {
                        put(UInt32(bitPattern: headLabels[i]), into: o, at: base + pixels + 4 * h)
                    }
                    var at = base + pixels + 4 * labels.count
                    for (h, k) in widths.enumerated() where k > 0 {
                        for j in 0..<k {
                            put(targets[h][i * k + j].bitPattern, into: o, at: at)
                            at += 4
                        }
                    }
                }
            }
        }
        return out
    }

    /// Unpacks training records of `ids` into a `ShardData`. `targetWidths` as
    /// `targetWidths(of:)` (empty: no head has targets).
    /// - Throws: `.size` when the records are not `ids.count` records of this run's size (the
    ///   coordinator and worker disagree on the run); `.target` for a target value outside
    ///   [0, 1] that is not NaN (the first, head by head), the rule the dataset loader applies (`GroundTruth`).
    public static func unpack(_ records: [UInt8], ids: [Int], pixels: Int, heads: Int,
                              targetWidths: [Int] = []) throws(SampleRecordsError) -> ShardData {
        let n = ids.count
        let size = trainingRecordSize(pixels: pixels, heads: heads, targetWidths: targetWidths)
        guard records.count == n * size, targetWidths.isEmpty || targetWidths.count == heads else {
            throw .size(bytes: records.count, samples: n, recordSize: size)
        }
        var images = [UInt8](repeating: 0, count: n * pixels)
        var labels = [[Int32]](repeating: [Int32](repeating: 0, count: n), count: heads)
        var targets = targetWidths.contains(where: { $0 > 0 }) ? targetWidths.map { [Float](repeating: 0, count: n * $0) } : []
        records.withUnsafeBufferPointer { r in
            images.withUnsafeMutableBufferPointer { img in
                for i in 0..<n {
                    for j in 0..<pixels { img[i * pixels + j] = r[i * size + j] }
                }
            }
            for h in 0..<heads {
                for i in 0..<n {
                    labels[h][i] = Int32(bitPattern: get(r, at: i * size + pixels + 4 * h))
                }
            }
            guard !targets.isEmpty else { return }
            for i in 0..<n {
                var at = i * size + pixels + 4 * heads
                for (h, k) in targetWidths.enumerated() where k > 0 {
                    for j in 0..<k {
                        targets[h][i * k + j] = Float(bitPattern: get(r, at: at))
                        at += 4
                    }
                }
            }
        }
        for (h, values) in targets.enumerated() where !values.isEmpty {
            let k = targetWidths[h]
            if let e = values.firstIndex(where: { !GroundTruth.isValidTarget($0) }) {
                throw .target(sample: ids[e / k], head: h, element: e % k, value: values[e])
            }
        }
        return ShardData(count: n, images: images, labels: labels, targets: targets)
    }

    /// Writes `bits` little-endian at `o[at ..< at + 4]`.
    @inline(__always)
    private static func put(_ bits: UInt32, into o: UnsafeMutableBufferPointer<UInt8>, at: Int) {
        o[at] = UInt8(truncatingIfNeeded: bits)
        o[at + 1] = UInt8(truncatingIfNeeded: bits >> 8)
        o[at + 2] = UInt8(truncatingIfNeeded: bits >> 16)
        o[at + 3] = UInt8(truncatingIfNeeded: bits >> 24)
    }

    /// Reads a little-endian UInt32 at `r[at ..< at + 4]`.
    @inline(__always)
    private static func get(_ r: UnsafeBufferPointer<UInt8>, at o: Int) -> UInt32 {
        UInt32(r[o]) | UInt32(r[o + 1]) << 8 | UInt32(r[o + 2]) << 16 | UInt32(r[o + 3]) << 24
    }
}
