// Real image files for import tests: JPEGs written by TurboJPEG's encoder and PNGs by
// libpng's, plus the broken files the importer must refuse.

import Foundation
import LoomImage

public enum PhotoFiles {
    /// `(height, width, 3)` pixels of one colour.
    public static func solid(width: Int, height: Int, _ c: (UInt8, UInt8, UInt8)) -> [UInt8] {
        RGBImage(width: width, height: height, fill: c).pixels
    }

    /// Left half `left`, right half `right`.
    public static func halves(width: Int, height: Int, left: (UInt8, UInt8, UInt8), right: (UInt8, UInt8, UInt8)) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let c = x < width / 2 ? left : right
                let i = (y * width + x) * 3
                p[i] = c.0; p[i + 1] = c.1; p[i + 2] = c.2
            }
        }
        return p
    }

    /// Writes `pixels` (RGB) as a JPEG at `path`, creating directories.
    public static func writeJPEG(_ path: String, pixels: [UInt8], width: Int, height: Int, quality: Int = 92,
                                 orientation: Int = 1) throws {
        let bytes = try JPEGEncoder().encode(pixels: pixels, width: width, height: height, channels: 3, quality: quality,
                                             subsampling: .s444, orientation: orientation)
        try write(path, bytes)
    }

    /// Writes `pixels` (RGB) as a PNG at `path`.
    public static func writePNG(_ path: String, pixels: [UInt8], width: Int, height: Int) throws {
        try write(path, try PNGCodec.encode(samples: pixels, width: width, height: height, colourType: .rgb))
    }

    public static func write(_ path: String, _ bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// The first half of a valid JPEG.
    public static func writeTruncatedJPEG(_ path: String) throws {
        let bytes = try JPEGEncoder().encode(pixels: solid(width: 64, height: 64, (10, 200, 30)), width: 64, height: 64, channels: 3)
        try write(path, Array(bytes.prefix(bytes.count / 2)))
    }

    /// A JPEG whose frame header declares 3-bit samples, which no decoder accepts.
    public static func writeCorruptJPEG(_ path: String) throws {
        var bytes = try JPEGEncoder().encode(pixels: solid(width: 16, height: 16, (10, 200, 30)), width: 16, height: 16, channels: 3)
        if let sof = (0..<(bytes.count - 1)).first(where: { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }) { bytes[sof + 4] = 3 }
        try write(path, bytes)
    }
}
