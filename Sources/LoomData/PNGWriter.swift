// A minimal PNG encoder (8-bit RGB, no interlace) for example grids in the docs.
// PNG = 8-byte signature, then chunks (length, type, data, CRC-32 of type+data):
// IHDR (size, bit depth, colour type 2 = RGB), IDAT (zlib stream of scanlines, each
// prefixed with filter byte 0 = none), IEND. See the PNG specification (ISO/IEC 15948).

import CZlib
import Foundation

/// Writes 8-bit RGB images as PNG files.
public enum PNGWriter {
    /// PNG bytes of an RGB image; `rgb` is `(height, width, 3)` row-major.
    public static func encode(rgb: [UInt8], width: Int, height: Int) throws(DatasetError) -> [UInt8] {
        guard width > 0, height > 0, rgb.count == width * height * 3 else {
            throw .invalidRequest(file: "<png>", reason: "rgb has \(rgb.count) bytes, \(width)x\(height)x3 needs \(width * height * 3)")
        }
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + width * 3))
        for y in 0..<height {
            raw.append(0)
            raw.append(contentsOf: rgb[(y * width * 3)..<((y + 1) * width * 3)])
        }
        var destLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(destLength))
        let status = compress2(&compressed, &destLength, raw, uLong(raw.count), 9)
        guard status == Z_OK else { throw .io(file: "<png>", reason: "zlib compress2 failed with status \(status)") }
        compressed.removeSubrange(Int(destLength)...)

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]   // bit depth 8, RGB, deflate, adaptive filtering, no interlace
        appendChunk(&png, type: "IHDR", data: header)
        appendChunk(&png, type: "IDAT", data: compressed)
        appendChunk(&png, type: "IEND", data: [])
        return png
    }

    /// Encodes and writes a PNG to `path` (parent directories are created).
    public static func write(rgb: [UInt8], width: Int, height: Int, to path: String) throws(DatasetError) {
        let bytes = try encode(rgb: rgb, width: width, height: height)
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url, options: .atomic)
        } catch {
            throw .io(file: path, reason: "cannot write PNG: \(error)")
        }
    }

    private static func appendChunk(_ png: inout [UInt8], type: String, data: [UInt8]) {
        let typeBytes = Array(type.utf8)
        png += bigEndian(UInt32(data.count))
        let body = typeBytes + data
        png += body
        let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        png += bigEndian(UInt32(crc))
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
