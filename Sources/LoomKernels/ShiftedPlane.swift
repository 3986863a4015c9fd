// im2col for "same" convolutions (stride 1, K = 2P + 1, so OH = H and OW = W),
// the common 3x3 pad-1 case. There, row (c, kh, kw) of one image's lowered matrix is the
// input plane c shifted by (kh − P)·W + (kw − P), except for the |kh − P| rows and
// |kw − P| columns that fall off the image, which are zero. So each row is one contiguous
// 8-wide copy of the plane (nearly H·W floats) followed by a few zero fixes, instead of
// H short row copies. (dx of such a convolution is itself a "same" convolution of dy with
// the flipped weights, Conv2D.swift, so there is no col2im counterpart.)

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
