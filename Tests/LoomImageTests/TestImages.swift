// Deterministic test pictures: smooth gradients with some texture, so JPEG round trips are
// close but not exact and resizing has something to average.

import LoomImage

enum TestImages {
    /// `(height, width, 3)` RGB: red grows to the right, green downwards, blue is a checker
    /// of 8-pixel cells.
    static func gradient(width: Int, height: Int) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                p[i] = UInt8(x * 255 / max(1, width - 1))
                p[i + 1] = UInt8(y * 255 / max(1, height - 1))
                p[i + 2] = ((x / 8 + y / 8) % 2 == 0) ? 60 : 190
            }
        }
        return p
    }

    /// Four flat quadrants: red top-left, green top-right, blue bottom-left, white bottom-right.
    static func quadrants(width: Int, height: Int) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                let c: (UInt8, UInt8, UInt8) = y < height / 2 ? (x < width / 2 ? (255, 0, 0) : (0, 255, 0))
                    : (x < width / 2 ? (0, 0, 255) : (255, 255, 255))
                p[i] = c.0; p[i + 1] = c.1; p[i + 2] = c.2
            }
        }
        return p
    }

    static func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
        precondition(a.count == b.count)
        var s = 0
        for i in a.indices { s += abs(Int(a[i]) - Int(b[i])) }
        return Double(s) / Double(a.count)
    }

    static func jpeg(_ pixels: [UInt8], width: Int, height: Int, channels: Int = 3, quality: Int = 95,
                     subsampling: JPEGEncoder.Subsampling = .s444, orientation: Int = 1) throws -> [UInt8] {
        try JPEGEncoder().encode(pixels: pixels, width: width, height: height, channels: channels, quality: quality,
                                 subsampling: subsampling, orientation: orientation)
    }
}
