// The record layout of `Assignment.sampleRecords`, for workers without the dataset file.
//
// Training assignment, one record per sample in `sampleIndices` order:
//     image uint8 (H, W, C) | label int32 little-endian per head, in head order
// Evaluation assignment: the image bytes only.

import LoomTraining

public enum SampleRecords {
    /// Bytes per training record.
    public static func trainingRecordSize(pixels: Int, heads: Int) -> Int { pixels + 4 * heads }

    /// Packs `images` (n, H, W, C) and per-head labels (heads × n) into n records.
    public static func pack(images: [UInt8], labels: [[Int32]], pixels: Int) -> [UInt8] {
        let n = pixels == 0 ? 0 : images.count / pixels
        let size = trainingRecordSize(pixels: pixels, heads: labels.count)
        var out = [UInt8](repeating: 0, count: n * size)
        out.withUnsafeMutableBufferPointer { o in
            images.withUnsafeBufferPointer { img in
                for i in 0..<n {
                    let base = i * size
                    for j in 0..<pixels { o[base + j] = img[i * pixels + j] }
                    for (h, headLabels) in labels.enumerated() {
                        let bits = UInt32(bitPattern: headLabels[i]).littleEndian
                        withUnsafeBytes(of: bits) { b in
                            for k in 0..<4 { o[base + pixels + 4 * h + k] = b[k] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Unpacks training records of `ids` into a `ShardData`; nil when the record size is
    /// not the one of this model (the coordinator and worker disagree on the run).
    public static func unpack(_ records: [UInt8], ids: [Int], pixels: Int, heads: Int) -> ShardData? {
        let n = ids.count
        let size = trainingRecordSize(pixels: pixels, heads: heads)
        guard records.count == n * size else { return nil }
        var images = [UInt8](repeating: 0, count: n * pixels)
        var labels = [[Int32]](repeating: [Int32](repeating: 0, count: n), count: heads)
        records.withUnsafeBufferPointer { r in
            images.withUnsafeMutableBufferPointer { img in
                for i in 0..<n {
                    for j in 0..<pixels { img[i * pixels + j] = r[i * size + j] }
                }
            }
            for h in 0..<heads {
                for i in 0..<n {
                    let o = i * size + pixels + 4 * h
                    let bits = UInt32(r[o]) | UInt32(r[o + 1]) << 8 | UInt32(r[o + 2]) << 16 | UInt32(r[o + 3]) << 24
                    labels[h][i] = Int32(bitPattern: bits)
                }
            }
        }
        return ShardData(sampleIDs: ids, images: images, labels: labels)
    }
}
