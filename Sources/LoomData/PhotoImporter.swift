// Decoding a photo manifest into a dataset file, in bounded memory.
//
// Splits are written one after the other (test, train, validation). Each split's rows go
// through in batches of `batchRows`: every core decodes, crops and resizes its share of
// the batch into one shared buffer, then the good rows are appended to growable HDF5
// datasets (images `[N, S, S, 3]` uint8 in chunks of about 1 MiB, labels int32 `[N]`,
// targets float32 `[N, K]`). Memory is one batch of images plus the manifest's rows,
// whatever N is. Everything goes to `<output>.tmp-<pid>`, renamed into place at the end;
// on any error, or a bad row without --skip-bad, the temporary file is removed and
// nothing appears under the output name.

import Foundation
import LoomHDF5
import LoomImage

/// How to run a photo import.
public struct PhotoImportOptions: Sendable {
    public var preprocessing: ImagePreprocessing
    /// Skip rows whose image or fields are bad (reported in the result) instead of stopping.
    public var skipBad = false
    /// Decoding threads.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Rows decoded between two writes: bounds the memory used for pixels.
    public var batchRows = 256
    /// The dataset's `name` and `license` attrs.
    public var name: String
    public var license = ""

    public init(preprocessing: ImagePreprocessing, name: String) {
        self.preprocessing = preprocessing; self.name = name
    }
}

/// What an import did.
public struct PhotoImportReport: Sendable {
    public var summary: DatasetSummary
    /// Rows skipped (with --skip-bad), in line order.
    public var skipped: [ManifestError]
    /// Wall time of decoding and writing, seconds.
    public var seconds: Double
    public var imported: Int { summary.splits.values.reduce(0, +) }
}

public enum PhotoImporter {
    /// Imports `manifest` into `output`; `progress(done, total, skipped)` is called after each
    /// batch. `shouldStop` is asked between two rows decoded: true stops the import with
    /// `.output(.stopped)`, leaving nothing under `output`.
    public static func run(_ manifest: PhotoManifest, output: String, options: PhotoImportOptions,
                           shouldStop: @escaping @Sendable () -> Bool = { false },
                           progress: (Int, Int, Int) -> Void = { _, _, _ in }) throws(ManifestError) -> PhotoImportReport {
        if !options.skipBad, let first = manifest.rejected.first { throw first }
        guard !manifest.rows.isEmpty else {
            throw .noRows(file: manifest.file, reason: "no row to import" + (manifest.rejected.isEmpty ? "" : " (\(manifest.rejected.count) bad rows skipped)"))
        }
        guard options.preprocessing.size > 0, options.preprocessing.size <= 4096 else {
            throw .badOption(option: "--size", reason: "\(options.preprocessing.size) is not in 1...4096")
        }
        let url = URL(fileURLWithPath: output)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw .output(.io(file: output, reason: "cannot create directory \(url.deletingLastPathComponent().path): \(error)"))
        }
        let temporary = "\(output).tmp-\(ProcessInfo.processInfo.processIdentifier)"
        let start = Date()
        do throws(ManifestError) {
            let result = try write(manifest, to: temporary, output: output, options: options, shouldStop: shouldStop,
                                   progress: progress)
            guard rename(temporary, output) == 0 else {
                throw .output(.io(file: output, reason: "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))"))
            }
            var summary = result.summary
            summary.path = output
            return PhotoImportReport(summary: summary, skipped: result.skipped, seconds: Date().timeIntervalSince(start))
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    private static func write(_ m: PhotoManifest, to path: String, output: String, options: PhotoImportOptions,
                              shouldStop: @escaping @Sendable () -> Bool,
                              progress: (Int, Int, Int) -> Void) throws(ManifestError) -> (summary: DatasetSummary, skipped: [ManifestError]) {
        do {
            return try writeFile(m, to: path, output: output, options: options, shouldStop: shouldStop, progress: progress)
        } catch let e as ManifestError {
            throw e
        } catch let e as HDF5Error {
            throw .output(.hdf5(e))
        } catch {
            throw .output(.io(file: path, reason: "\(error)"))
        }
    }

    /// `write` with untyped throws: ManifestError for rows, HDF5Error for the file.
    private static func writeFile(_ m: PhotoManifest, to path: String, output: String, options: PhotoImportOptions,
                                  shouldStop: @escaping @Sendable () -> Bool,
                                  progress: (Int, Int, Int) -> Void) throws -> (summary: DatasetSummary, skipped: [ManifestError]) {
        let s = options.preprocessing.size
        let shape = ImageShape(height: s, width: s, channels: 3)
        let rowBytes = shape.elementCount
        let batch = max(1, options.batchRows)
        let threads = max(1, options.threads)
        var skipped = m.rejected
        var counts: [String: Int] = [:]
        var done = 0
        let file = try HDF5File.create(path)
        defer { file.close() }
        let root = file.root
        let preprocessors = (0..<threads).map { _ in ImagePreprocessor(options.preprocessing) }
        let pixels = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: batch * rowBytes)
        defer { pixels.deallocate() }
        let failures = UnsafeMutableBufferPointer<ManifestError?>.allocate(capacity: batch)
        defer { failures.deallocate() }

        do {
            for split in PhotoManifest.splitNames {
                let rows = m.rows.filter { $0.split == split }
                guard !rows.isEmpty else { continue }
                // Fletcher-32 on every chunk: a changed byte fails its read (DatasetError.corrupt).
                try root.createRows(UInt8.self, "\(split)/images", rowShape: [s, s, 3],
                                    chunkRows: photoChunkRows(rowBytes: rowBytes), checksum: true)
                for a in m.attributes {
                    switch a.storage {
                    case .label:
                        try root.createRows(Int32.self, "\(split)/labels/\(a.info.name)", rowShape: [], chunkRows: 4096, checksum: true)
                    case .targets(let columns):
                        try root.createRows(Float.self, "\(split)/targets/\(a.info.name)", rowShape: [columns.count], chunkRows: 256,
                                            checksum: true)
                    }
                }
                var good = 0
                for first in stride(from: 0, to: rows.count, by: batch) {
                    let part = Array(rows[first..<min(rows.count, first + batch)])
                    let stopped = { () -> ManifestError in
                        .output(.stopped(output: output, at: "at row \(done + 1) of \(m.rows.count) (split \(split))"))
                    }
                    if shouldStop() { throw stopped() }
                    decode(part, preprocessors: preprocessors, into: pixels, failures: failures, manifest: m.file,
                           shouldStop: shouldStop)
                    // A stop seen while decoding left rows undecoded: the batch is not written.
                    if shouldStop() { throw stopped() }
                    // Keep the good rows, in order, at the front of the buffer.
                    var kept: [PhotoRow] = []
                    for (k, row) in part.enumerated() {
                        if let failure = failures[k] {
                            if !options.skipBad { throw failure }
                            skipped.append(failure)
                            continue
                        }
                        if kept.count != k {
                            (pixels.baseAddress! + kept.count * rowBytes).update(from: pixels.baseAddress! + k * rowBytes, count: rowBytes)
                        }
                        kept.append(row)
                    }
                    try root.appendRows(UnsafeBufferPointer(start: pixels.baseAddress, count: kept.count * rowBytes), to: "\(split)/images")
                    for a in m.attributes {
                        switch a.storage {
                        case .label(let index):
                            let values = kept.map { $0.labels[index] }
                            try values.withUnsafeBufferPointer { try root.appendRows($0, to: "\(split)/labels/\(a.info.name)") }
                        case .targets(let columns):
                            var values: [Float] = []
                            values.reserveCapacity(kept.count * columns.count)
                            for row in kept { for c in columns { let v = row.targets[c]; values.append(v < 0 ? .nan : Float(v)) } }
                            try values.withUnsafeBufferPointer { try root.appendRows($0, to: "\(split)/targets/\(a.info.name)") }
                        }
                    }
                    good += kept.count
                    done += part.count
                    progress(done, m.rows.count, skipped.count - m.rejected.count)
                }
                if good == 0 { try root.remove(split) } else { counts[split] = good }
            }
            guard !counts.isEmpty else { throw ManifestError.noRows(file: m.file, reason: "every row is bad; nothing to import") }
            for a in m.attributes {
                _ = try root.createGroup("attributes/\(a.info.name)")
                try root.setAttribute("kind", a.info.kind.rawValue, on: "attributes/\(a.info.name)")
                try root.setAttribute("class_names", a.info.classNames, on: "attributes/\(a.info.name)")
            }
            try root.setAttribute("name", options.name)
            try root.setAttribute("source", m.source)
            try root.setAttribute("license", options.license)
            try root.setAttribute(PhotoDatasetInfo.preprocessingAttribute, options.preprocessing.summary)
            let fingerprint = try StreamingFingerprint.compute(root, splits: counts.keys.sorted(), shape: shape)
            try root.setAttribute("fingerprint", fingerprint)
            try file.flush()
            skipped.sort { ($0.line ?? 0) < ($1.line ?? 0) }
            return (DatasetSummary(path: path, name: options.name, fingerprint: fingerprint, splits: counts, imageShape: shape), skipped)
        }
    }

    /// Image rows per chunk: about 256 KiB. A checksummed chunk is read and summed whole,
    /// so a training step that reads one image of a large (not resident) split reads its
    /// whole chunk: small chunks keep that cost near the image's own size (one 96 px image
    /// is 27 KiB: 9 per chunk; one of 224 px or more fills a chunk alone).
    static func photoChunkRows(rowBytes: Int) -> Int { max(1, min(64, (256 << 10) / max(rowBytes, 1))) }

    /// Decodes `rows` into `pixels` (row k at k * S * S * 3) on all threads; a row that
    /// fails leaves its error in `failures[k]` (nil when it succeeded).
    static func decode(_ rows: [PhotoRow], preprocessors: [ImagePreprocessor], into pixels: UnsafeMutableBufferPointer<UInt8>,
                       failures: UnsafeMutableBufferPointer<ManifestError?>, manifest: String,
                       shouldStop: @Sendable () -> Bool = { false }) {
        let rowBytes = preprocessors[0].preprocessing.size * preprocessors[0].preprocessing.size * 3
        let threads = min(preprocessors.count, rows.count)
        let base = pixels.baseAddress!
        let failureBase = failures.baseAddress!
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var k = t
            while k < rows.count {
                let row = rows[k]
                (failureBase + k).initialize(to: nil)
                if shouldStop() { k += threads; continue }
                switch readFile(row.path) {
                case .failure(let reason):
                    failureBase[k] = .missingImage(file: manifest, line: row.line, path: row.name, reason: reason)
                case .success(let bytes):
                    let failure: ImageError? = bytes.withUnsafeBytes { b in
                        do throws(ImageError) {
                            try preprocessors[t].prepare(b, box: row.box, into: base + k * rowBytes)
                            return nil
                        } catch { return error }
                    }
                    if let failure { failureBase[k] = .badImage(file: manifest, line: row.line, path: row.name, error: failure) }
                }
                k += threads
            }
        }
    }

    /// The bytes of the file at `path`, or why it cannot be read.
    static func readFile(_ path: String) -> Result<[UInt8], FileReadError> {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            return .failure(FileReadError(errno == ENOENT ? "file not found" : "cannot open: \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(FileReadError("cannot stat: \(String(cString: strerror(errno)))")) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(FileReadError("not a regular file")) }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var got = 0
        while got < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, size - got) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .failure(FileReadError("read failed after \(got) of \(size) bytes")) }
            got += n
        }
        return .success(bytes)
    }
}

/// Why a file could not be read (a message for the user).
struct FileReadError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

extension ManifestError {
    static func missingImage(file: String, line: Int, path: String, reason: FileReadError) -> ManifestError {
        .missingImage(file: file, line: line, path: path, reason: reason.description)
    }
}

