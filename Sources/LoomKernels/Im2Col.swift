// Lowering a convolution onto GEMM. im2col copies every receptive field of `count` images
// into the columns of one matrix, so that the batch is folded into the GEMM N dimension:
//   columns (C·K·K, count·OH·OW), row r = (c·K + kh)·K + kw, column j = i·OH·OW + oh·OW + ow,
//   columns[r, j] = x[i, c, oh·S − P + kh, ow·S − P + kw]   (0 outside the image).
// Rows are filled one output row (OW contiguous floats) at a time from one input row, so
// reads and writes are both sequential; col2im is the exact adjoint (scatter-add).
// "Same" convolutions (stride 1, OW = W) take a faster path: see ShiftedPlane.swift.

/// The output columns `ow` whose input column ow·S − P + kw lies inside [0, W).
@inline(__always)
func validColumns(_ s: Conv2DShape, kernelOffset kw: Int) -> Range<Int> {
    let outWidth = s.outWidth
    var lo = 0
    while lo < outWidth && lo * s.stride - s.padding + kw < 0 { lo += 1 }
    var hi = outWidth
    while hi > lo && (hi - 1) * s.stride - s.padding + kw >= s.width { hi -= 1 }
    return lo..<hi
}

/// columns (C·K·K, count·OH·OW) ← x (count, C, H, W).
func im2col(_ columns: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
            count: Int, _ s: Conv2DShape) {
    if ShiftedPlane.applies(to: s) {
        im2colShifted(columns, x, count: count, s)
        return
    }
    let (oh, ow, k) = (s.outHeight, s.outWidth, s.kernel)
    let pixels = oh * ow
    let ld = count * pixels
    for c in 0..<s.inChannels {
        for kh in 0..<k {
            for kw in 0..<k {
                let row = columns + ((c * k + kh) * k + kw) * ld
                let valid = validColumns(s, kernelOffset: kw)
                for i in 0..<count {
                    let plane = x + (i * s.inChannels + c) * s.height * s.width
                    for r in 0..<oh {
                        let dst = row + i * pixels + r * ow
                        let ih = r * s.stride - s.padding + kh
                        if ih < 0 || ih >= s.height || valid.isEmpty {
                            for j in 0..<ow { dst[j] = 0 }
                            continue
                        }
                        // Plain loops, not memcpy: rows are a few dozen floats, where a
                        // library call costs more than the copy.
                        let src = plane + ih * s.width - s.padding + kw
                        for j in 0..<valid.lowerBound { dst[j] = 0 }
                        if s.stride == 1 {
                            for j in valid { dst[j] = src[j] }
                        } else {
                            for j in valid { dst[j] = src[j * s.stride] }
                        }
                        for j in valid.upperBound..<ow { dst[j] = 0 }
                    }
                }
            }
        }
    }
}

/// dx (count, C, H, W) ← Σ of columns (C·K·K, count·OH·OW) scattered back to the pixels they
/// were copied from (the adjoint of `im2col`). dx is overwritten.
func col2im(_ dx: UnsafeMutablePointer<Float>, _ columns: UnsafePointer<Float>,
            count: Int, _ s: Conv2DShape) {
    let (oh, ow, k) = (s.outHeight, s.outWidth, s.kernel)
    let pixels = oh * ow
    let ld = count * pixels
    dx.update(repeating: 0, count: count * s.inputCount)
    for c in 0..<s.inChannels {
        for kh in 0..<k {
            for kw in 0..<k {
                let row = columns + ((c * k + kh) * k + kw) * ld
                let valid = validColumns(s, kernelOffset: kw)
                if valid.isEmpty { continue }
                for i in 0..<count {
                    let plane = dx + (i * s.inChannels + c) * s.height * s.width
                    for r in 0..<oh {
                        let ih = r * s.stride - s.padding + kh
                        if ih < 0 || ih >= s.height { continue }
                        let src = row + i * pixels + r * ow
                        let dst = plane + ih * s.width - s.padding + kw
                        if s.stride == 1 {
                            for j in valid { dst[j] += src[j] }
                        } else {
                            for j in valid { dst[j * s.stride] += src[j] }
                        }
                    }
                }
            }
        }
    }
}
