// Writing a whole dataset (ARCHITECTURE.md, "Dataset file"), atomically: everything goes to
// `<output>.tmp-<pid>`, which is flushed, closed and renamed over `<output>` only when
// complete. Any failure removes the temporary file, so a reader never sees a partial
// dataset under the final name.

import Foundation
import LoomHDF5

extension HDF5Error: HDF5ErrorLike {
    var isChecksumMismatch: Bool { kind == .checksumMismatch }
}

/// Everything a dataset file holds, in memory.
public struct DatasetContents {
    public struct Split {
        public var name: String
        public var count: Int
        /// `(count, H, W, C)` uint8.
        public var images: [UInt8]
        /// Per attribute: int32 `(count)`, -1 = not labelled.
        public var labels: [String: [Int32]] = [:]
        /// Per name: float32 `(count, k)`.
        public var targets: [String: (k: Int, values: [Float])] = [:]

        public init(name: String, count: Int, images: [UInt8], labels: [String: [Int32]] = [:],
                    targets: [String: (k: Int, values: [Float])] = [:]) {
            self.name = name; self.count = count; self.images = images; self.labels = labels; self.targets = targets
        }
    }

    public var name: String
    public var source: String
    public var license: String
    public var imageShape: ImageShape
    public var attributes: [AttributeInfo]
    public var splits: [Split]

    public init(name: String, source: String, license: String, imageShape: ImageShape, attributes: [AttributeInfo],
                splits: [Split]) {
        self.name = name; self.source = source; self.license = license; self.imageShape = imageShape
        self.attributes = attributes; self.splits = splits
    }

    /// The content hash stored as the `fingerprint` root attr: FNV-1a over, for each split
    /// by name, its name, count and image shape, image bytes, then each label array and
    /// each target array by name (name, then little-endian values).
    public var fingerprint: String {
        var f = Fingerprint()
        for split in splits.sorted(by: { $0.name < $1.name }) {
            f.add(name: "\(split.name) \(split.count)x\(imageShape)")
            f.add(split.images)
            for key in split.labels.keys.sorted() {
                f.add(name: "labels/\(key)")
                f.add(split.labels[key]!)
            }
            for key in split.targets.keys.sorted() {
                f.add(name: "targets/\(key)")
                let bits = split.targets[key]!.values.map { $0.bitPattern.littleEndian }
                bits.withUnsafeBytes { f.add($0) }
            }
        }
        return f.hex
    }
}

public enum DatasetWriter {
    /// Image rows per HDF5 chunk: 28x28x3 images give ~300 KiB chunks, small enough that
    /// reading a random minibatch touches little more than it needs.
    public static let chunkRows = 128

    /// Image rows written at a time: `control` is asked before each such slab.
    static let slabRows = 32 * chunkRows

    /// Writes `contents` to `output` atomically (creating its directory). `control` may stop
    /// the write between two slabs of rows (`.stopped`; the temporary file is removed).
    public static func write(_ contents: DatasetContents, to output: String,
                             control: ImportControl = ImportControl()) throws(DatasetError) -> DatasetSummary {
        let url = URL(fileURLWithPath: output)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw .io(file: output, reason: "cannot create directory \(url.deletingLastPathComponent().path): \(error)")
        }
        let temporary = "\(output).tmp-\(ProcessInfo.processInfo.processIdentifier)"
        let fingerprint = contents.fingerprint
        do throws(DatasetError) {
            try writeFile(contents, fingerprint: fingerprint, to: temporary, output: output, control: control)
            guard rename(temporary, output) == 0 else {
                throw .io(file: output, reason: "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        var counts: [String: Int] = [:]
        for s in contents.splits { counts[s.name] = s.count }
        return DatasetSummary(path: output, name: contents.name, fingerprint: fingerprint,
                              splits: counts, imageShape: contents.imageShape)
    }

    private static func writeFile(_ c: DatasetContents, fingerprint: String, to path: String, output: String,
                                  control: ImportControl) throws(DatasetError) {
        var stoppedAt: String?
        do throws(HDF5Error) {
            let file = try HDF5File.create(path)
            defer { file.close() }
            let root = file.root
            let shape = c.imageShape
            for split in c.splits {
                guard split.images.count == split.count * shape.elementCount else {
                    throw HDF5Error(file: path, object: "/\(split.name)/images",
                                    message: "\(split.images.count) bytes for \(split.count) images of \(shape)")
                }
                // Every array carries Fletcher-32 chunk checksums: a byte changed on disk
                // fails the read of its chunk (DatasetError.corrupt) instead of training on it.
                let stage = "write \(split.name)"
                var written = 0
                let complete = try root.write(split.images, shape: [split.count, shape.height, shape.width, shape.channels],
                                              to: "\(split.name)/images", chunkRows: min(chunkRows, max(1, split.count)),
                                              compressionLevel: 4, checksum: true, slabRows: slabRows) { done in
                    written = done
                    control.progress(ImportProgress(stage: stage, done: done, total: split.count, unit: "images"))
                    return !control.shouldStop()
                }
                guard complete else { stoppedAt = "while writing split \(split.name) (\(written) of \(split.count) images)"; break }
                control.progress(ImportProgress(stage: stage, done: split.count, total: split.count, unit: "images"))
                for (name, labels) in split.labels {
                    try root.write(labels, shape: [split.count], to: "\(split.name)/labels/\(name)", checksum: true)
                }
                for (name, t) in split.targets {
                    try root.write(t.values, shape: [split.count, t.k], to: "\(split.name)/targets/\(name)", checksum: true)
                }
            }
            // A stopped write ends here, and `write` removes the file: no return in this
            // block, which would return from the function as a success.
            if stoppedAt == nil {
                for a in c.attributes {
                    _ = try root.createGroup("attributes/\(a.name)")
                    try root.setAttribute("kind", a.kind.rawValue, on: "attributes/\(a.name)")
                    try root.setAttribute("class_names", a.classNames, on: "attributes/\(a.name)")
                }
                try root.setAttribute("name", c.name)
                try root.setAttribute("source", c.source)
                try root.setAttribute("license", c.license)
                try root.setAttribute("fingerprint", fingerprint)
                try file.flush()
            }
        } catch {
            throw .hdf5(error)
        }
        if let at = stoppedAt { throw .stopped(output: output, at: at) }
    }
}
