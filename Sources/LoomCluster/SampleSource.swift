// Where the coordinator reads the image bytes it ships to workers without local data, and
// for evaluation assignments.

import LoomData
import LoomTraining

/// Images of a dataset by split and index, plus the dataset's identity.
public protocol SampleSource: AnyObject {
    /// Fingerprint a worker's local file must match to be used.
    var fingerprint: String { get }
    /// Images (n, H, W, C) uint8 of `indices` of `split`.
    func images(split: String, indices: [Int]) throws(TrainingError) -> [UInt8]
}

/// A `SampleSource` over an open dataset file.
public final class DatasetSampleSource: SampleSource {
    public let dataset: Dataset
    public init(dataset: Dataset) { self.dataset = dataset }

    public var fingerprint: String { dataset.fingerprint }

    public func images(split: String, indices: [Int]) throws(TrainingError) -> [UInt8] {
        do {
            return try dataset.split(split).readImages(indices: indices)
        } catch {
            throw TrainingError("\(error)")
        }
    }
}

/// Deterministic pseudo-random images for benchmarks: pixel = hash(split, index, offset).
public final class SyntheticSampleSource: SampleSource {
    public let imageShape: ImageShape
    public init(imageShape: ImageShape) { self.imageShape = imageShape }

    public var fingerprint: String { "synthetic-\(imageShape)" }

    public func images(split: String, indices: [Int]) throws(TrainingError) -> [UInt8] {
        let pixels = imageShape.elementCount
        var out = [UInt8](repeating: 0, count: indices.count * pixels)
        for (i, index) in indices.enumerated() {
            var x = UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15 | 1
            for j in 0..<pixels {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                out[i * pixels + j] = UInt8(truncatingIfNeeded: x >> 24)
            }
        }
        return out
    }
}
