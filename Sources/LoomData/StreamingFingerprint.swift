// The dataset fingerprint (see DatasetContents.fingerprint) computed by reading a file back
// in slices, for writers that never hold a whole split in memory and for verifying a file
// against its `fingerprint` attribute (`loom verify`, workers, `loom train`).

import Foundation
import LoomHDF5

enum StreamingFingerprint {
    /// FNV-1a over `splits` (sorted names) of the open file under `root`, in the order
    /// `DatasetContents.fingerprint` defines: per split its name, count and image shape,
    /// image bytes, then labels and targets by name.
    static func compute(_ root: HDF5Group, splits: [String], shape: ImageShape) throws(HDF5Error) -> String {
        try hash(root, splits: splits, shape: shape).hex
    }

    /// The fingerprint and the number of data bytes hashed.
    ///
    /// Images are read about 4 MiB at a time on this thread while the previous slice is
    /// hashed on another: FNV-1a is one multiply per byte in a chain that cannot be split,
    /// so reading (and decompressing, and checking chunk checksums) overlaps with it
    /// instead of adding to it.
    static func hash(_ root: HDF5Group, splits: [String], shape: ImageShape) throws(HDF5Error) -> (hex: String, bytes: Int) {
        let state = HashState()
        var bytes = 0
        let rowsPerRead = max(1, (4 << 20) / max(shape.elementCount, 1))   // about 4 MiB a read
        let slice = rowsPerRead * shape.elementCount
        // Two buffers: one is filled while the other is hashed.
        let buffers = [UnsafeMutableBufferPointer<UInt8>.allocate(capacity: slice),
                       UnsafeMutableBufferPointer<UInt8>.allocate(capacity: slice)]
        let hashing = DispatchGroup()
        let queue = DispatchQueue(label: "loom.fingerprint")
        defer {
            hashing.wait()
            buffers.forEach { $0.deallocate() }
        }
        for split in splits.sorted() {
            let count = try root.shape(of: "\(split)/images")[0]
            state.f.add(name: "\(split) \(count)x\(shape)")
            var which = 0
            for first in stride(from: 0, to: count, by: rowsPerRead) {
                let rows = first..<min(count, first + rowsPerRead)
                let n = rows.count * shape.elementCount
                let buffer = UnsafeMutableBufferPointer(rebasing: buffers[which][0..<n])
                try root.readRows(UInt8.self, "\(split)/images", rows: rows, into: buffer)
                hashing.wait()   // the slice before is hashed: the hash is current
                nonisolated(unsafe) let filled = UnsafeRawBufferPointer(buffer)
                queue.async(group: hashing) { state.f.add(filled) }
                bytes += n
                which = 1 - which
            }
            hashing.wait()
            if root.isGroup("\(split)/labels") {
                for name in try root.children("\(split)/labels").sorted() {
                    state.f.add(name: "labels/\(name)")
                    let values = try root.read(Int32.self, "\(split)/labels/\(name)").values
                    state.f.add(values)
                    bytes += 4 * values.count
                }
            }
            if root.isGroup("\(split)/targets") {
                for name in try root.children("\(split)/targets").sorted() {
                    state.f.add(name: "targets/\(name)")
                    let k = try root.shape(of: "\(split)/targets/\(name)")[1]
                    let step = max(1, (1 << 20) / max(k, 1))
                    for first in stride(from: 0, to: count, by: step) {
                        let values = try root.readRows(Float.self, "\(split)/targets/\(name)", rows: first..<min(count, first + step)).values
                        let bits = values.map { $0.bitPattern.littleEndian }
                        bits.withUnsafeBytes { state.f.add($0) }
                        bytes += 4 * values.count
                    }
                }
            }
        }
        return (state.f.hex, bytes)
    }

    /// The running hash, shared with the hashing queue (one writer at a time: the reader
    /// waits for the queue before it touches the hash).
    private final class HashState: @unchecked Sendable {
        var f = Fingerprint()
    }
}

/// What photo datasets record beyond the common layout.
public enum PhotoDatasetInfo {
    /// Root attr holding `ImagePreprocessing.summary` (e.g. `size=96 fit=pad filter=area gap=2`):
    /// how the stored images were made, so that prediction on new files does the same.
    public static let preprocessingAttribute = "image_preprocessing"
}

extension Dataset {
    /// How the images of a photo dataset were made (`ImagePreprocessing.summary`), nil for
    /// datasets that were not imported from image files.
    public var imagePreprocessing: String? {
        (try? file.root.stringAttribute(PhotoDatasetInfo.preprocessingAttribute)) ?? nil
    }
}
