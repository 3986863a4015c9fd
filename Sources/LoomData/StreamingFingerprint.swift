// The dataset fingerprint (see DatasetContents.fingerprint) computed by reading a file back
// in slices, for writers that never hold a whole split in memory.

import LoomHDF5

enum StreamingFingerprint {
    /// FNV-1a over `splits` (sorted names) of the open file under `root`, in the order
    /// `DatasetContents.fingerprint` defines: per split its name, count and image shape,
    /// image bytes, then labels and targets by name.
    static func compute(_ root: HDF5Group, splits: [String], shape: ImageShape) throws(HDF5Error) -> String {
        var f = Fingerprint()
        let rowsPerRead = max(1, (4 << 20) / shape.elementCount)   // about 4 MiB a read
        for split in splits.sorted() {
            let count = try root.shape(of: "\(split)/images")[0]
            f.add(name: "\(split) \(count)x\(shape)")
            var buffer = [UInt8](repeating: 0, count: rowsPerRead * shape.elementCount)
            for first in stride(from: 0, to: count, by: rowsPerRead) {
                let rows = first..<min(count, first + rowsPerRead)
                let n = rows.count * shape.elementCount
                try buffer.withUnsafeMutableBufferPointer { (b) throws(HDF5Error) in
                    try root.readRows(UInt8.self, "\(split)/images", rows: rows, into: UnsafeMutableBufferPointer(rebasing: b[0..<n]))
                }
                buffer.withUnsafeBytes { f.add(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            if root.isGroup("\(split)/labels") {
                for name in try root.children("\(split)/labels").sorted() {
                    f.add(name: "labels/\(name)")
                    f.add(try root.read(Int32.self, "\(split)/labels/\(name)").values)
                }
            }
            if root.isGroup("\(split)/targets") {
                for name in try root.children("\(split)/targets").sorted() {
                    f.add(name: "targets/\(name)")
                    let k = try root.shape(of: "\(split)/targets/\(name)")[1]
                    let step = max(1, (1 << 20) / k)
                    for first in stride(from: 0, to: count, by: step) {
                        let values = try root.readRows(Float.self, "\(split)/targets/\(name)", rows: first..<min(count, first + step)).values
                        let bits = values.map { $0.bitPattern.littleEndian }
                        bits.withUnsafeBytes { f.add($0) }
                    }
                }
            }
        }
        return f.hex
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
