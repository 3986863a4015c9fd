// JPEG through libjpeg-turbo's TurboJPEG API. A decoder or encoder owns a TurboJPEG handle
// and is not thread-safe: make one per thread (they are cheap).
//
// Colour: grayscale and YCbCr JPEGs decode straight to RGB. CMYK and YCCK JPEGs decode to
// CMYK, converted here with R = (255 - C)(255 - K) / 255 (likewise G from M, B from Y); files
// with an Adobe APP14 segment (Photoshop's, and libjpeg's own CMYK output) store the inks
// inverted, so there R = C * K / 255. That is what Pillow and browsers do without a colour
// profile. Truncated files are errors; other libjpeg warnings (stray bytes between
// segments) are not, as in most viewers.

import CTurboJPEG

/// A scale TurboJPEG can decode at directly: num/denom of the full size.
public struct JPEGScale: Equatable, Sendable, CustomStringConvertible {
    public var num: Int
    public var denom: Int
    public static let full = JPEGScale(num: 1, denom: 1)
    public var factor: Double { Double(num) / Double(denom) }
    /// A dimension at this scale (rounded up, as libjpeg does).
    public func scaled(_ n: Int) -> Int { (n * num + denom - 1) / denom }
    public var description: String { "\(num)/\(denom)" }

    /// TurboJPEG's scales that reduce (factor <= 1), largest first.
    public static let reductions: [JPEGScale] = {
        var n: Int32 = 0
        guard let p = tjGetScalingFactors(&n) else { return [.full] }
        var out: [JPEGScale] = []
        for i in 0..<Int(n) where p[i].num <= p[i].denom {
            out.append(JPEGScale(num: Int(p[i].num), denom: Int(p[i].denom)))
        }
        return out.sorted { $0.factor > $1.factor }
    }()
}

/// The size and colour space of a JPEG, from its header.
public struct JPEGHeader: Equatable, Sendable {
    public enum ColourSpace: Equatable, Sendable { case gray, ycbcr, rgb, cmyk, ycck }
    public var width: Int
    public var height: Int
    public var colourSpace: ColourSpace
    public var markers: JPEGMarkers
}

/// Decodes JPEG files to `RGBImage`.
public final class JPEGDecoder {
    private let handle: tjhandle
    /// Width x height above which a file is refused before decoding.
    public let maxPixels: Int

    public init(maxPixels: Int = 100_000_000) {
        guard let h = tjInitDecompress() else { fatalError("TurboJPEG: cannot create a decompressor (out of memory)") }
        handle = h
        self.maxPixels = maxPixels
    }

    deinit { tjDestroy(handle) }

    private var message: String { String(cString: tjGetErrorStr2(handle)) }

    /// The header of the JPEG in `bytes`.
    public func header(_ bytes: UnsafeRawBufferPointer) throws(ImageError) -> JPEGHeader {
        var w: Int32 = 0, h: Int32 = 0, subsampling: Int32 = 0, colourSpace: Int32 = 0
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard tjDecompressHeader3(handle, base, UInt(bytes.count), &w, &h, &subsampling, &colourSpace) == 0 else {
            let m = message
            if m.contains("Premature") || !Self.endsWithEOI(bytes) { throw .truncated(format: "JPEG", reason: m) }
            throw .corrupt(format: "JPEG", reason: m)
        }
        let space: JPEGHeader.ColourSpace
        switch colourSpace {
        case Int32(TJCS_GRAY.rawValue): space = .gray
        case Int32(TJCS_RGB.rawValue): space = .rgb
        case Int32(TJCS_CMYK.rawValue): space = .cmyk
        case Int32(TJCS_YCCK.rawValue): space = .ycck
        default: space = .ycbcr
        }
        guard Int(w) * Int(h) <= maxPixels else { throw .tooLarge(width: Int(w), height: Int(h), limit: maxPixels) }
        return JPEGHeader(width: Int(w), height: Int(h), colourSpace: space, markers: JPEGMarkers(bytes))
    }

    /// True when the file ends with the EOI marker (FF D9), as every complete JPEG does: a
    /// failure on a file without it is reported as truncation.
    static func endsWithEOI(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 2 && bytes[bytes.count - 2] == 0xFF && bytes[bytes.count - 1] == 0xD9
    }

    /// Decodes `bytes` at `scale` (one of `JPEGScale.reductions`), without applying the
    /// EXIF orientation: the result is the stored image, `scale.scaled(width)` wide.
    public func decode(_ bytes: UnsafeRawBufferPointer, header: JPEGHeader, scale: JPEGScale = .full) throws(ImageError) -> RGBImage {
        let w = scale.scaled(header.width), h = scale.scaled(header.height)
        let cmyk = header.colourSpace == .cmyk || header.colourSpace == .ycck
        let channels = cmyk ? 4 : 3
        var out = [UInt8](repeating: 0, count: w * h * channels)
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let status = out.withUnsafeMutableBufferPointer {
            tjDecompress2(handle, base, UInt(bytes.count), $0.baseAddress, Int32(w), 0, Int32(h),
                          Int32((cmyk ? TJPF_CMYK : TJPF_RGB).rawValue), 0)
        }
        if status != 0 {
            let m = message
            let warning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
            if m.contains("Premature end") || (!warning && !Self.endsWithEOI(bytes)) { throw .truncated(format: "JPEG", reason: m) }
            if !warning { throw .corrupt(format: "JPEG", reason: m) }
        }
        guard cmyk else { return RGBImage(width: w, height: h, pixels: out) }
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        let inverted = header.markers.adobe
        for i in 0..<(w * h) {
            let k = Int(out[4 * i + 3])
            for c in 0..<3 {
                let v = Int(out[4 * i + c])
                rgb[3 * i + c] = inverted ? UInt8((v * k + 127) / 255) : UInt8(((255 - v) * (255 - k) + 127) / 255)
            }
        }
        return RGBImage(width: w, height: h, pixels: rgb)
    }
}

/// Encodes images as JPEG files (for tests and the photo benchmark generator).
public final class JPEGEncoder {
    /// Chroma subsampling of the encoded file.
    public enum Subsampling: Sendable {
        case s444, s420, gray
        var tj: Int32 {
            switch self {
            case .s444: return Int32(TJSAMP_444.rawValue)
            case .s420: return Int32(TJSAMP_420.rawValue)
            case .gray: return Int32(TJSAMP_GRAY.rawValue)
            }
        }
    }

    private let handle: tjhandle

    public init() {
        guard let h = tjInitCompress() else { fatalError("TurboJPEG: cannot create a compressor (out of memory)") }
        handle = h
    }

    deinit { tjDestroy(handle) }

    /// JPEG bytes of `pixels` `(height, width, channels)`: channels 1 (gray), 3 (RGB) or
    /// 4 (CMYK, written as an Adobe YCCK JPEG with libjpeg's inverted inks, so a pixel of
    /// inks (c, m, y, k) stored as (255 - c, ...)). `orientation` 2...8 adds an EXIF segment.
    public func encode(pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int = 90,
                       subsampling: Subsampling = .s420, orientation: Int = 1) throws(ImageError) -> [UInt8] {
        guard width > 0, height > 0, [1, 3, 4].contains(channels), pixels.count == width * height * channels else {
            throw .encoding(reason: "\(pixels.count) bytes for \(width)x\(height)x\(channels)")
        }
        let format = channels == 1 ? TJPF_GRAY : channels == 3 ? TJPF_RGB : TJPF_CMYK
        let sampling = channels == 1 ? Subsampling.gray : subsampling
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = pixels.withUnsafeBufferPointer {
            tjCompress2(handle, $0.baseAddress, Int32(width), 0, Int32(height), Int32(format.rawValue), &buffer, &size,
                        sampling.tj, Int32(quality), 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else { throw .encoding(reason: String(cString: tjGetErrorStr2(handle))) }
        var bytes = Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
        if (2...8).contains(orientation) {
            bytes.insert(contentsOf: JPEGMarkers.exifSegment(orientation: orientation), at: 2)   // right after SOI
        }
        return bytes
    }
}
