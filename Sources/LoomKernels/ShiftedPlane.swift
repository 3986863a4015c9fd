// im2col / col2im for "same" convolutions (stride 1, K = 2P + 1, so OH = H and OW = W),
// the common 3x3 pad-1 case. There, row (c, kh, kw) of one image's lowered matrix is the
// input plane c shifted by (kh − P)·W + (kw − P), except for the |kh − P| rows and
// |kw − P| columns that fall off the image, which are zero. So each row is one contiguous
// 8-wide copy of the plane (nearly H·W floats) followed by a few zero fixes, instead of
// H short row copies; col2im adds the same span back after zeroing those entries.

/// The geometry of one shift (kh, kw) of a "same" convolution.
struct ShiftedPlane {
    /// Plane offset added to an output pixel index: (kh − P)·W + (kw − P).
    let shift: Int
    /// Output rows [rowStart, rowEnd) read inside the image.
    let rowStart: Int, rowEnd: Int
    /// Output columns [columnStart, columnEnd) read inside the image.
    let columnStart: Int, columnEnd: Int

    /// Whether the shifted-plane path applies: stride 1 and an output as large as the input.
    static func applies(to s: Conv2DShape) -> Bool {
        s.stride == 1 && s.kernel == 2 * s.padding + 1
    }

    init(_ s: Conv2DShape, kh: Int, kw: Int) {
        let dh = kh - s.padding, dw = kw - s.padding
        shift = dh * s.width + dw
        rowStart = max(0, -dh)
        rowEnd = min(s.height, s.height - dh)
        columnStart = max(0, -dw)
        columnEnd = min(s.width, s.width - dw)
    }

    /// The contiguous run of output pixels [first, end) whose sources lie inside the plane;
    /// inside it, only the columns outside [columnStart, columnEnd) read wrong (wrapped) pixels.
    func span(width: Int) -> Range<Int> {
        guard rowStart < rowEnd, columnStart < columnEnd else { return 0..<0 }
        return (rowStart * width + columnStart)..<((rowEnd - 1) * width + columnEnd)
    }

    /// Sets the pixels of `row` (one image's H·W outputs) that read outside the image to 0.
    @inline(__always)
    func zeroOutside(_ row: UnsafeMutablePointer<Float>, height: Int, width: Int) {
        let span = span(width: width)
        if span.isEmpty {
            row.update(repeating: 0, count: height * width)
            return
        }
        for p in 0..<span.lowerBound { row[p] = 0 }
        for p in span.upperBound..<(height * width) { row[p] = 0 }
        // Column by column (|kw − P| of them), strided: a per-row loop of one or two floats
        // compiles to a memset call per row.
        for j in 0..<columnStart {
            var p = rowStart * width + j
            while p < rowEnd * width {
                row[p] = 0
                p += width
            }
        }
        for j in columnEnd..<width {
            var p = rowStart * width + j
            while p < rowEnd * width {
                row[p] = 0
                p += width
            }
        }
    }
}

/// `im2col` for `ShiftedPlane.applies(to: s)`: columns (C·K·K, count·H·W) ← x (count, C, H, W).
func im2colShifted(_ columns: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                   count: Int, _ s: Conv2DShape) {
    let (h, w, k) = (s.height, s.width, s.kernel)
    let pixels = h * w
    let ld = count * pixels
    for c in 0..<s.inChannels {
        for kh in 0..<k {
            for kw in 0..<k {
                let geometry = ShiftedPlane(s, kh: kh, kw: kw)
                let span = geometry.span(width: w)
                let row = columns + ((c * k + kh) * k + kw) * ld
                for i in 0..<count {
                    let dst = row + i * pixels
                    if !span.isEmpty {
                        let src = x + (i * s.inChannels + c) * pixels + geometry.shift
                        (dst + span.lowerBound).update(from: src + span.lowerBound, count: span.count)
                    }
                    geometry.zeroOutside(dst, height: h, width: w)
                }
            }
        }
    }
}

/// `col2im` for `ShiftedPlane.applies(to: s)`: dx (count, C, H, W) ← Σ of the shifted rows
/// of columns (C·K·K, count·H·W). First zeroes the entries of `columns` that lie outside
/// the image, so that every tap may be read as a plain shifted plane; then each dx pixel q
/// is Σ over taps t of row_t[q − shift_t], summed in registers and stored once (a tap whose
/// q − shift_t falls outside the plane contributes nothing: only near the first and last rows).
func col2imShifted(_ dx: UnsafeMutablePointer<Float>, _ columns: UnsafeMutablePointer<Float>,
                   count: Int, _ s: Conv2DShape) {
    let (h, w, k) = (s.height, s.width, s.kernel)
    let pixels = h * w
    let ld = count * pixels
    let reach = s.padding * w + s.padding   // the largest |shift|
    let interior = min(reach, pixels)..<max(pixels - reach, min(reach, pixels))
    for c in 0..<s.inChannels {
        let taps = columns + c * k * k * ld
        for i in 0..<count {
            for kh in 0..<k {
                for kw in 0..<k {
                    ShiftedPlane(s, kh: kh, kw: kw).zeroOutside(taps + (kh * k + kw) * ld + i * pixels, height: h, width: w)
                }
            }
        }
    }
    for i in 0..<count {
        for c in 0..<s.inChannels {
            let plane = dx + (i * s.inChannels + c) * pixels
            let taps = columns + c * k * k * ld + i * pixels
            var q = interior.lowerBound
            while q + 8 <= interior.upperBound {
                var sum = Lanes()
                for kh in 0..<k {
                    for kw in 0..<k {
                        let shift = (kh - s.padding) * w + (kw - s.padding)
                        sum += loadLanes(taps + (kh * k + kw) * ld + q - shift)
                    }
                }
                storeLanes(sum, plane + q)
                q += 8
            }
            for e in 0..<interior.lowerBound { plane[e] = edgeSum(taps, e, ld, s) }
            while q < pixels {
                plane[q] = edgeSum(taps, q, ld, s)
                q += 1
            }
        }
    }
}

/// dx pixel q of one plane as the sum of the taps that reach it (bounds-checked; for the
/// pixels near the first and last rows and the leftovers of the 8-wide loop).
@inline(__always)
private func edgeSum(_ taps: UnsafePointer<Float>, _ q: Int, _ ld: Int, _ s: Conv2DShape) -> Float {
    let (k, w, pixels) = (s.kernel, s.width, s.height * s.width)
    var sum: Float = 0
    for kh in 0..<k {
        for kw in 0..<k {
            let p = q - ((kh - s.padding) * w + (kw - s.padding))
            if p >= 0 && p < pixels { sum += taps[(kh * k + kw) * ld + p] }
        }
    }
    return sum
}
