// An 8-bit RGB image in memory, and the geometric operations the importer needs before
// resizing: cropping and the eight EXIF orientations.

/// An 8-bit RGB image, row-major `(height, width, 3)`.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// `(height, width, 3)` bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage: \(pixels.count) bytes for \(width)x\(height)x3")
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// A `width` x `height` image filled with one colour.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8)) {
        self.width = width; self.height = height
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { p[3 * i] = fill.0; p[3 * i + 1] = fill.1; p[3 * i + 2] = fill.2 }
        pixels = p
    }

    /// The pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// The part of the image inside `box` (clamped to the image first).
    public func cropped(to box: CropBox) throws(ImageError) -> RGBImage {
        let b = try box.clamped(width: width, height: height)
        let w = b.x2 - b.x1, h = b.y2 - b.y1
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let src = ((b.y1 + y) * width + b.x1) * 3
            out[(y * w * 3)..<((y + 1) * w * 3)] = pixels[src..<(src + w * 3)]
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// The image as displayed under EXIF orientation `orientation` (1...8; anything else is 1):
    /// 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse,
    /// 8 rotate 90 counter-clockwise. Orientations 5-8 swap width and height.
    public func oriented(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return self }
        let swap = orientation >= 5
        let ow = swap ? height : width, oh = swap ? width : height
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    for x in 0..<ow {
                        // Source (sx, sy) shown at displayed (x, y).
                        let sx: Int, sy: Int
                        switch orientation {
                        case 2: sx = width - 1 - x; sy = y
                        case 3: sx = width - 1 - x; sy = height - 1 - y
                        case 4: sx = x; sy = height - 1 - y
                        case 5: sx = y; sy = x
                        case 6: sx = y; sy = height - 1 - x
                        case 7: sx = width - 1 - y; sy = height - 1 - x
                        default: sx = width - 1 - y; sy = x   // 8
                        }
                        let s = (sy * width + sx) * 3, d = (y * ow + x) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: ow, height: oh, pixels: out)
    }
}
