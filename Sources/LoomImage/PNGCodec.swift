// PNG through libpng (the C shim keeps libpng's longjmp error handling inside C). Every
// PNG becomes 8-bit RGB: palettes and gray expanded, 16-bit samples keep their high byte
// (as Pillow does), and alpha is composited on white. Gamma chunks are ignored.

import CPNGShim

public enum PNGCodec {
    /// Decodes a PNG file's bytes to RGB, alpha composited on white:
    /// out = (c * a + 255 * (255 - a)) / 255, rounded.
    public static func decode(_ bytes: UnsafeRawBufferPointer, maxPixels: Int = 100_000_000) throws(ImageError) -> RGBImage {
        var pixels: UnsafeMutablePointer<UInt8>? = nil
        var w: UInt32 = 0, h: UInt32 = 0
        var error = [CChar](repeating: 0, count: 256)
        let status = loom_png_decode_rgba(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count, maxPixels,
                                          &pixels, &w, &h, &error, error.count)
        guard status == 0, let pixels else {
            let m = String(cString: error)
            if m.contains("pixels is more than") { throw .tooLarge(width: 0, height: 0, limit: maxPixels) }
            if m.contains("truncated") || m.contains("Not enough") { throw .truncated(format: "PNG", reason: m) }
            throw .corrupt(format: "PNG", reason: m)
        }
        defer { loom_png_free(pixels) }
        let n = Int(w) * Int(h)
        var rgb = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<n {
            let a = Int(pixels[4 * i + 3])
            for c in 0..<3 {
                let v = Int(pixels[4 * i + c])
                rgb[3 * i + c] = a == 255 ? UInt8(v) : UInt8((v * a + 255 * (255 - a) + 127) / 255)
            }
        }
        return RGBImage(width: Int(w), height: Int(h), pixels: rgb)
    }

    /// PNG colour types the encoder writes.
    public enum ColourType: Int32, Sendable { case gray = 0, rgb = 2, grayAlpha = 4, rgba = 6 }

    /// PNG bytes of `samples` (row-major; for `bitDepth` 16 two bytes a sample, big-endian).
    public static func encode(samples: [UInt8], width: Int, height: Int, colourType: ColourType,
                              bitDepth: Int = 8) throws(ImageError) -> [UInt8] {
        let channels = [ColourType.gray: 1, .rgb: 3, .grayAlpha: 2, .rgba: 4][colourType]!
        guard samples.count == width * height * channels * (bitDepth / 8) else {
            throw .encoding(reason: "\(samples.count) bytes for \(width)x\(height)x\(channels) at \(bitDepth) bits")
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var error = [CChar](repeating: 0, count: 256)
        let status = samples.withUnsafeBufferPointer {
            loom_png_encode($0.baseAddress, UInt32(width), UInt32(height), colourType.rawValue, Int32(bitDepth),
                            &out, &size, &error, error.count)
        }
        guard status == 0, let out else { throw .encoding(reason: String(cString: error)) }
        defer { loom_png_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
