// The record layout of `Assignment.sampleRecords`, for workers without the dataset file.
//
// Training assignment, one record per sample in `sampleIndices` order:
//     image uint8 (H, W, C)
//   | label int32 little-endian per head, in head order (-1 for heads trained on targets)
//   | targets float32 little-endian, K_h per head that `usesTargets`, in head order
//     (NaN = not labelled)
// A run without multilabel heads has no target bytes: its records are image + labels.
// Evaluation assignment: the image bytes only.

import LoomTraining

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
                    for j in 0..<pixels { o[base + j] = img[i * pixels + j] }
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

    /// Unpacks training records of `ids` into a `ShardData`; nil when the record size is
    /// not the one of this model (the coordinator and worker disagree on the run).
    /// `targetWidths` as `targetWidths(of:)` (empty: no head has targets).
    public static func unpack(_ records: [UInt8], ids: [Int], pixels: Int, heads: Int,
                              targetWidths: [Int] = []) -> ShardData? {
        let n = ids.count
        let size = trainingRecordSize(pixels: pixels, heads: heads, targetWidths: targetWidths)
        guard records.count == n * size, targetWidths.isEmpty || targetWidths.count == heads else { return nil }
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
        return ShardData(sampleIDs: ids, images: images, labels: labels, targets: targets)
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
