// From an image file's bytes to the S x S x 3 pixels a dataset stores: decode (JPEG at a
// reduced scale when the output is small, see `reductionGap`), apply the EXIF orientation,
// crop to the box (clamped to the image), then resize the box with area averaging to fit
// S x S, keeping its aspect ratio:
//   pad:  the whole box, scaled so its longer side is S, centred on black;
//   crop: the centred square of the box, scaled to S x S (the box's shorter side is kept).
// `loom import` and `loom predict` both go through this type, so a checkpoint's images
// are prepared exactly as its training images were.

/// How a box becomes a square image.
public enum Fit: String, Sendable, CaseIterable {
    case pad, crop
}

/// The preprocessing of one dataset: output size, fit and the decode shortcut.
public struct ImagePreprocessing: Equatable, Sendable {
    /// Output side S in pixels.
    public var size: Int
    public var fit: Fit
    /// A JPEG is decoded at the smallest TurboJPEG scale (1/2, 1/4, 1/8 ...) at which the
    /// decoded window is still at least `reductionGap` times the output size in both
    /// directions, then area-averaged; 0 (the default) decodes at full size. With 2 it is
    /// faster and within about half a level of a full-size decode on average (docs/DATASETS.md).
    public var reductionGap: Double

    public init(size: Int, fit: Fit = .pad, reductionGap: Double = 0) {
        self.size = size; self.fit = fit; self.reductionGap = reductionGap
    }

    /// Text stored with datasets and checkpoints, e.g. `size=96 fit=pad filter=area gap=2`.
    public var summary: String {
        "size=\(size) fit=\(fit.rawValue) filter=area gap=\(reductionGap == reductionGap.rounded() ? String(Int(reductionGap)) : String(reductionGap))"
    }

    /// Parses `summary`'s format back.
    public init?(summary: String) {
        var values: [String: String] = [:]
        for part in summary.split(separator: " ") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { values[String(kv[0])] = String(kv[1]) }
        }
        guard let s = values["size"].flatMap(Int.init), s > 0, let f = values["fit"].flatMap(Fit.init(rawValue:)),
              values["filter"] == "area", let g = values["gap"].flatMap(Double.init) else { return nil }
        self.init(size: s, fit: f, reductionGap: g)
    }

    /// Where the box goes: the source window (in box-image pixels) and its size and
    /// offset in the S x S output.
    func layout(boxWidth bw: Int, boxHeight bh: Int) -> (window: SourceWindow, width: Int, height: Int, x: Int, y: Int) {
        let s = Double(size)
        switch fit {
        case .pad:
            let scale = s / Double(max(bw, bh))
            let w = max(1, min(size, Int((Double(bw) * scale).rounded())))
            let h = max(1, min(size, Int((Double(bh) * scale).rounded())))
            return (SourceWindow(x: 0, y: 0, width: Double(bw), height: Double(bh)), w, h, (size - w) / 2, (size - h) / 2)
        case .crop:
            let side = Double(min(bw, bh))
            return (SourceWindow(x: (Double(bw) - side) / 2, y: (Double(bh) - side) / 2, width: side, height: side),
                    size, size, 0, 0)
        }
    }
}

/// The image formats the preprocessor reads.
public enum ImageFormat: String, Sendable {
    case jpeg = "JPEG", png = "PNG"

    /// The format of a file from its first bytes.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) throws(ImageError) -> ImageFormat {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, Array(bytes[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        let head = bytes.prefix(8).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        throw .notAnImage(firstBytes: head.isEmpty ? "nothing (empty file)" : head.joined(separator: " "))
    }
}

/// Turns image files into dataset pixels. Holds a JPEG decoder: one per thread.
public final class ImagePreprocessor {
    public let preprocessing: ImagePreprocessing
    private let jpeg: JPEGDecoder

    public init(_ preprocessing: ImagePreprocessing, maxPixels: Int = 100_000_000) {
        self.preprocessing = preprocessing
        jpeg = JPEGDecoder(maxPixels: maxPixels)
    }

    /// The whole displayed image (orientation applied), at full size.
    public func decode(_ bytes: UnsafeRawBufferPointer) throws(ImageError) -> RGBImage {
        switch try ImageFormat.sniff(bytes) {
        case .png:
            return try PNGCodec.decode(bytes, maxPixels: jpeg.maxPixels)
        case .jpeg:
            let header = try jpeg.header(bytes)
            return try jpeg.decode(bytes, header: header).oriented(header.markers.orientation)
        }
    }

    /// `size` x `size` x 3 pixels of the image in `bytes`, cut to `box` (in displayed
    /// pixels; nil = the whole image), written to `output`.
    public func prepare(_ bytes: UnsafeRawBufferPointer, box: CropBox?, into output: UnsafeMutablePointer<UInt8>) throws(ImageError) {
        let image: RGBImage
        var scale = 1.0
        let clampedBox: CropBox
        switch try ImageFormat.sniff(bytes) {
        case .png:
            image = try PNGCodec.decode(bytes, maxPixels: jpeg.maxPixels)
            clampedBox = try (box ?? CropBox(x1: 0, y1: 0, x2: image.width, y2: image.height))
                .clamped(width: image.width, height: image.height)
        case .jpeg:
            let header = try jpeg.header(bytes)
            let o = header.markers.orientation
            let (dw, dh) = o >= 5 ? (header.height, header.width) : (header.width, header.height)
            clampedBox = try (box ?? CropBox(x1: 0, y1: 0, x2: dw, y2: dh)).clamped(width: dw, height: dh)
            let plan = preprocessing.layout(boxWidth: clampedBox.x2 - clampedBox.x1, boxHeight: clampedBox.y2 - clampedBox.y1)
            var chosen = JPEGScale.full
            if preprocessing.reductionGap > 0 {
                for s in JPEGScale.reductions
                where plan.window.width * s.factor >= preprocessing.reductionGap * Double(plan.width)
                    && plan.window.height * s.factor >= preprocessing.reductionGap * Double(plan.height) {
                    chosen = s   // reductions are sorted largest first: keep the last that fits
                }
            }
            scale = chosen.factor
            image = try jpeg.decode(bytes, header: header, scale: chosen).oriented(o)
        }
        let plan = preprocessing.layout(boxWidth: clampedBox.x2 - clampedBox.x1, boxHeight: clampedBox.y2 - clampedBox.y1)
        let s = preprocessing.size
        output.initialize(repeating: 0, count: s * s * 3)
        var window = plan.window
        window.x = (window.x + Double(clampedBox.x1)) * scale
        window.y = (window.y + Double(clampedBox.y1)) * scale
        window.width = min(window.width * scale, Double(image.width) - window.x)
        window.height = min(window.height * scale, Double(image.height) - window.y)
        AreaResize.resample(image, window: window, width: plan.width, height: plan.height,
                            into: output, outputWidth: s, offsetX: plan.x, offsetY: plan.y)
    }

    /// `prepare` into a new array.
    public func prepare(_ bytes: [UInt8], box: CropBox? = nil) throws(ImageError) -> [UInt8] {
        let n = preprocessing.size * preprocessing.size * 3
        var out = [UInt8](repeating: 0, count: n)
        var failure: ImageError?
        bytes.withUnsafeBytes { b in
            out.withUnsafeMutableBufferPointer { o in
                do throws(ImageError) { try prepare(b, box: box, into: o.baseAddress!) } catch { failure = error }
            }
        }
        if let failure { throw failure }
        return out
    }
}
