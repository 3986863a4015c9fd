// Reading gzip'd IDX files (LeCun's MNIST format, also used by Fashion-MNIST).
//
// Layout (all integers big-endian): a 4-byte magic (0x00000803 = 2051 for rank-3 uint8
// images, 0x00000801 = 2049 for rank-1 uint8 labels), one uint32 per dimension, then the
// uint8 data in row-major order. We check every header field against what the caller
// expects and the data length against the header, so truncated or padded files fail
// with the file name and the reason instead of producing a short dataset.

import CZlib
import Foundation

/// The contents of one IDX file: its dimensions and raw uint8 data.
struct IDXFile {
    static let imageMagic: UInt32 = 2051
    static let labelMagic: UInt32 = 2049

    var dimensions: [Int]
    var data: [UInt8]

    /// Reads and validates `path` (gzip'd or plain: zlib reads both transparently).
    /// - Parameters:
    ///   - magic: the expected magic number (2051 images, 2049 labels).
    ///   - rank: dimensions the header must declare (3 for images, 1 for labels).
    /// `control` is asked between two megabytes read (`output`: the file being imported into).
    static func read(path: String, magic: UInt32, rank: Int, output: String = "",
                     control: ImportControl = ImportControl()) throws(DatasetError) -> IDXFile {
        let bytes = try readGzip(path: path, output: output, control: control)
        let headerSize = 4 + 4 * rank
        guard bytes.count >= 4 else {
            throw .badIDX(file: path, reason: "only \(bytes.count) bytes, shorter than the 4-byte magic number")
        }
        let found = bigEndianUInt32(bytes, at: 0)
        guard found == magic else {
            throw .badIDX(file: path, reason: "magic number \(found), expected \(magic)")
        }
        guard bytes.count >= headerSize else {
            throw .badIDX(file: path, reason: "header truncated: \(bytes.count) bytes, expected \(headerSize)")
        }
        let dims = (0..<rank).map { Int(bigEndianUInt32(bytes, at: 4 + 4 * $0)) }
        let expected = dims.reduce(1, *)
        let actual = bytes.count - headerSize
        if actual < expected {
            throw .badIDX(file: path, reason: "truncated: header \(dims) needs \(expected) data bytes, file has \(actual)")
        }
        if actual > expected {
            throw .badIDX(file: path, reason: "\(actual - expected) bytes of trailing data after the \(expected) the header \(dims) declares")
        }
        return IDXFile(dimensions: dims, data: Array(bytes[headerSize...]))
    }

    /// The whole decompressed content of a gzip file. A corrupt or cut-off gzip stream
    /// is an error, not a short read.
    static func readGzip(path: String, output: String = "", control: ImportControl = ImportControl()) throws(DatasetError) -> [UInt8] {
        guard let gz = gzopen(path, "rb") else { throw .fileNotFound(file: path) }
        defer { gzclose(gz) }
        let name = (path as NSString).lastPathComponent
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        var out: [UInt8] = []
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            try control.check(output: output, at: "while reading \(path)")
            let n = buffer.withUnsafeMutableBytes { gzread(gz, $0.baseAddress, UInt32(chunk)) }
            control.progress(ImportProgress(stage: "read \(name)", done: min(size, Int(gzoffset(gz))), total: size, unit: "bytes"))
            if n < 0 { throw .badIDX(file: path, reason: "gzip stream is corrupt (\(gzipMessage(gz)))") }
            if n == 0 { break }
            out.append(contentsOf: buffer[0..<Int(n)])
        }
        var code: Int32 = 0
        let message = String(cString: gzerror(gz, &code))
        if code != Z_OK {
            throw .badIDX(file: path, reason: "gzip stream is corrupt or cut off (\(message))")
        }
        return out
    }

    private static func gzipMessage(_ gz: gzFile) -> String {
        var code: Int32 = 0
        return String(cString: gzerror(gz, &code))
    }

    private static func bigEndianUInt32(_ b: [UInt8], at i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
}
