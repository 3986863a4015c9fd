// Errors of the image layer: what is wrong with one image's bytes or with what was asked of
// it. The manifest importer adds the file and the manifest row around them.

/// Why an image could not be decoded or cut as asked.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes are not a JPEG or PNG file (the first bytes are shown as hex).
    case notAnImage(firstBytes: String)
    /// A JPEG or PNG that the decoder rejects (corrupt data, unsupported variant); the
    /// decoder's own message is kept.
    case corrupt(format: String, reason: String)
    /// The file ends before the image data does.
    case truncated(format: String, reason: String)
    /// Width x height over the decoder's pixel limit (a guard against decompression bombs).
    case tooLarge(width: Int, height: Int, limit: Int)
    /// The crop box does not overlap the image at all.
    case boxOutside(box: CropBox, width: Int, height: Int)
    /// The crop box has no area (x2 <= x1 or y2 <= y1).
    case emptyBox(box: CropBox)
    /// An encoder (used by tests and generators) refused its input.
    case encoding(reason: String)

    public var description: String {
        switch self {
        case .notAnImage(let bytes):
            return "not a JPEG or PNG image (starts with \(bytes))"
        case .corrupt(let format, let reason):
            return "corrupt \(format): \(reason)"
        case .truncated(let format, let reason):
            return "truncated \(format): \(reason)"
        case .tooLarge(let w, let h, let limit):
            return "\(w)x\(h) pixels is more than the limit of \(limit)"
        case .boxOutside(let box, let w, let h):
            return "crop box \(box) lies outside the \(w)x\(h) image"
        case .emptyBox(let box):
            return "crop box \(box) is empty (needs x1 < x2 and y1 < y2)"
        case .encoding(let reason):
            return "cannot encode image: \(reason)"
        }
    }
}

/// A crop box in pixels of the displayed image (after EXIF orientation): columns x1..<x2,
/// rows y1..<y2, as in StreetStyle-27k's and DeepFashion's annotation files.
public struct CropBox: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var x1: Int, y1: Int, x2: Int, y2: Int

    public init(x1: Int, y1: Int, x2: Int, y2: Int) {
        self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2
    }

    public var description: String { "(\(x1),\(y1))-(\(x2),\(y2))" }

    /// The box clamped to a `width` x `height` image.
    /// - Throws: `.emptyBox` when x2 <= x1 or y2 <= y1; `.boxOutside` when nothing of the
    ///   box lies inside the image.
    public func clamped(width: Int, height: Int) throws(ImageError) -> CropBox {
        guard x2 > x1, y2 > y1 else { throw .emptyBox(box: self) }
        let c = CropBox(x1: max(0, x1), y1: max(0, y1), x2: min(width, x2), y2: min(height, y2))
        guard c.x2 > c.x1, c.y2 > c.y1 else { throw .boxOutside(box: self, width: width, height: height) }
        return c
    }
}
