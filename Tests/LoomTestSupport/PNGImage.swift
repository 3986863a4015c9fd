// A minimal PNG reader for tests that look at screenshots: 8-bit grey, RGB or RGBA,
// non-interlaced (what headless Chromium writes), all five scanline filters.

import CZlib
import Foundation

public struct PNGImage {
    public let width: Int
    public let height: Int
    /// (height, width, 4) RGBA bytes, row-major.
    public let rgba: [UInt8]

    public struct Unsupported: Error, CustomStringConvertible {
        public let description: String
    }

    public init(file: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        guard bytes.count > 8, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
            throw Unsupported(description: "\(file): not a PNG file")
        }
        func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var i = 8, w = 0, h = 0, colourType = 0
        var idat: [UInt8] = []
        while i + 8 <= bytes.count {
            let length = u32(i), type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = (i + 8)..<min(i + 8 + length, bytes.count)
            if type == "IHDR" {
                w = u32(body.lowerBound); h = u32(body.lowerBound + 4)
                let depth = bytes[body.lowerBound + 8], interlace = bytes[body.lowerBound + 12]
                colourType = Int(bytes[body.lowerBound + 9])
                guard depth == 8, interlace == 0, [0, 2, 6].contains(colourType) else {
                    throw Unsupported(description: "\(file): depth \(depth), colour type \(colourType), interlace \(interlace) not read here")
                }
            } else if type == "IDAT" {
                idat += bytes[body]
            } else if type == "IEND" {
                break
            }
            i += 12 + length
        }
        let channels = colourType == 6 ? 4 : colourType == 2 ? 3 : 1
        let stride = w * channels
        var raw = [UInt8](repeating: 0, count: (stride + 1) * h)
        var rawLength = uLongf(raw.count)
        let status = uncompress(&raw, &rawLength, idat, uLong(idat.count))
        guard status == Z_OK, Int(rawLength) == raw.count else {
            throw Unsupported(description: "\(file): image data does not inflate to \(w)x\(h) (zlib status \(status))")
        }
        var pixels = [UInt8](repeating: 0, count: stride * h)
        for y in 0..<h {
            let filter = raw[y * (stride + 1)]
            for x in 0..<stride {
                let v = raw[y * (stride + 1) + 1 + x]
                let a = x >= channels ? Int(pixels[y * stride + x - channels]) : 0
                let b = y > 0 ? Int(pixels[(y - 1) * stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(pixels[(y - 1) * stride + x - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default: throw Unsupported(description: "\(file): row \(y) has filter \(filter)")
                }
                pixels[y * stride + x] = UInt8(truncatingIfNeeded: Int(v) + predictor)
            }
        }
        var out = [UInt8](repeating: 255, count: w * h * 4)
        for p in 0..<(w * h) {
            for ch in 0..<3 { out[p * 4 + ch] = pixels[p * channels + (channels == 1 ? 0 : ch)] }
            if channels == 4 { out[p * 4 + 3] = pixels[p * channels + 3] }
        }
        width = w; height = h; rgba = out
    }

    /// Share of pixels whose colour differs from the top-left pixel (the page background).
    public var shareNotBackground: Double {
        guard width * height > 0 else { return 0 }
        let bg = Array(rgba[0..<4])
        var n = 0
        for p in 0..<(width * height) where rgba[(p * 4)..<(p * 4 + 4)].elementsEqual(bg) == false { n += 1 }
        return Double(n) / Double(width * height)
    }

    /// Number of distinct RGB colours (capped at `limit`).
    public func distinctColours(limit: Int = 10_000) -> Int {
        var seen = Set<Int>()
        for p in 0..<(width * height) {
            seen.insert(Int(rgba[p * 4]) << 16 | Int(rgba[p * 4 + 1]) << 8 | Int(rgba[p * 4 + 2]))
            if seen.count >= limit { break }
        }
        return seen.count
    }
}
