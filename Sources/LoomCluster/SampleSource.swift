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
            throw .dataset(error)
        }
    }
}

/// Deterministic pseudo-random images for benchmarks: pixel = hash(split, index, offset).
public final class SyntheticSampleSource: SampleSource {
    public let imageShape: ImageShape
    public init(imageShape: ImageShape) { self.imageShape = imageShape }

    public var fingerprint: String { "synthetic-\(imageShape)" }

    public func images(split: String, indices: [Int]) throws(TrainingError) -> [UInt8] {
        // Eight pixels per xorshift step: this runs on the coordinator between steps (the
        // cluster benchmark ships every sample), so it should cost next to nothing.
        let pixels = imageShape.elementCount
        return [UInt8](unsafeUninitializedCapacity: indices.count * pixels) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            for (i, index) in indices.enumerated() {
                var x = UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15 | 1
                var j = 0
                while j < pixels {
                    x ^= x << 13; x ^= x >> 7; x ^= x << 17
                    if pixels - j >= 8 {
                        // The eight bytes of x, lowest first (as the byte loop below).
                        raw.storeBytes(of: x.littleEndian, toByteOffset: i * pixels + j, as: UInt64.self)
                    } else {
                        var bits = x
                        for k in 0..<(pixels - j) {
                            out[i * pixels + j + k] = UInt8(truncatingIfNeeded: bits)
                            bits >>= 8
                        }
                    }
                    j += 8
                }
            }
            initialized = indices.count * pixels
        }
    }
}
