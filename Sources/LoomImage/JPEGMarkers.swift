// What TurboJPEG does not report from a JPEG's header segments: the EXIF orientation (APP1
// "Exif", TIFF IFD0 tag 0x0112) and whether an Adobe APP14 segment is present (Adobe's
// CMYK JPEGs store inverted ink values; see JPEGDecoder). Only the segments before the
// first scan are read; malformed EXIF is ignored (orientation 1), as viewers do.

/// Header facts of a JPEG file that TurboJPEG's header call does not give.
public struct JPEGMarkers: Equatable, Sendable {
    /// EXIF orientation 1...8 (1 when absent or unreadable).
    public var orientation = 1
    /// True when an Adobe APP14 segment is present.
    public var adobe = false

    /// Scans the marker segments of `bytes` up to the first SOS (start of scan).
    public init(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return }
        var i = 2
        while i + 4 <= bytes.count {
            guard bytes[i] == 0xFF else { return }
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }                 // fill byte
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return }          // SOS / EOI: header done
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            let start = i + 4, end = i + 2 + length
            guard length >= 2, end <= bytes.count else { return }
            if marker == 0xE1, end - start >= 6,
               bytes[start] == 0x45, bytes[start + 1] == 0x78, bytes[start + 2] == 0x69, bytes[start + 3] == 0x66,
               bytes[start + 4] == 0, bytes[start + 5] == 0 {
                if let o = Self.orientation(tiff: UnsafeRawBufferPointer(rebasing: bytes[(start + 6)..<end])) {
                    orientation = o
                }
            }
            if marker == 0xEE, end - start >= 5,
               bytes[start] == 0x41, bytes[start + 1] == 0x64, bytes[start + 2] == 0x6F,
               bytes[start + 3] == 0x62, bytes[start + 4] == 0x65 {   // "Adobe"
                adobe = true
            }
            i = end
        }
    }

    /// Tag 0x0112 of IFD0 in a TIFF structure ("II*\0" little- or "MM\0*" big-endian).
    static func orientation(tiff t: UnsafeRawBufferPointer) -> Int? {
        guard t.count >= 8 else { return nil }
        let little: Bool
        if t[0] == 0x49 && t[1] == 0x49 { little = true } else if t[0] == 0x4D && t[1] == 0x4D { little = false } else { return nil }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= t.count else { return nil }
            return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for k in 0..<count {
            let entry = ifd + 2 + 12 * k
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112 {
                // Type SHORT (3), count 1: the value sits in the first two bytes of the field.
                guard u16(entry + 2) == 3, let v = u16(entry + 8), (1...8).contains(v) else { return nil }
                return v
            }
        }
        return nil
    }

    /// An APP1 EXIF segment holding only IFD0 with the orientation tag (big-endian TIFF),
    /// for encoders that write photos "as a camera would".
    public static func exifSegment(orientation: Int) -> [UInt8] {
        var tiff: [UInt8] = [0x4D, 0x4D, 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08]   // MM, 42, IFD0 at 8
        tiff += [0x00, 0x01]                                                    // one entry
        tiff += [0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]                // 0x0112 SHORT x1
        tiff += [0x00, UInt8(orientation), 0x00, 0x00]                          // value
        tiff += [0x00, 0x00, 0x00, 0x00]                                        // no next IFD
        let body: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let length = body.count + 2
        return [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + body
    }
}
