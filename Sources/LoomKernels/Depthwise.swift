// Depthwise convolution: one k×k filter per channel (PyTorch `Conv2d(C, C, k, stride, padding,
// groups=C)`). It is not a GEMM (each output reads k² inputs of one plane), so it runs as
// shifted planes: for each tap (ky, kx), every output row adds w[c, ky, kx] times a row of
// the input. Stride-1 rows are 8-wide SIMD; strided rows go element by element.
//
// Determinism: each output element is summed tap by tap in (ky, kx) order on every path, and
// each weight gradient is one dot product per plane (8 lane sums added in a fixed order, then
// the tail) added over the batch in sample order. No threads, no fused multiply-add.

/// Sizes of one depthwise convolution. x (N, C, H, W) → y (N, C, outHeight, outWidth).
public struct DepthwiseShape: Equatable, Sendable {
    public let channels: Int, height: Int, width: Int
    public let kernel: Int, stride: Int, padding: Int

    public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.channels = channels; self.height = height; self.width = width
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Multiply-adds of one sample's forward pass, times 2.
    public var forwardFLOPs: Int { 2 * channels * outHeight * outWidth * kernel * kernel }

    /// Outputs o (along one axis of `size` inputs and `outSize` outputs) whose input
    /// o·stride − padding + tap lies inside [0, size).
    @inline(__always)
    func valid(tap: Int, size: Int, outSize: Int) -> Range<Int> {
        // o ≥ ⌈(padding − tap) / stride⌉ and o ≤ ⌊(size − 1 + padding − tap) / stride⌋.
        let low = padding - tap
        let lo = low <= 0 ? 0 : (low + stride - 1) / stride
        let high = size - 1 + padding - tap
        let hi = high < 0 ? 0 : min(outSize, high / stride + 1)
        return lo..<max(lo, hi)
    }
}

/// y[i] += a·x[i] for i < n (multiply, then add: no fused multiply-add).
@inline(__always)
private func addScaled(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ a: Float, _ n: Int) {
    let av = Lanes(repeating: a)
    var i = 0
    while i + 8 <= n {
        storeLanes(loadLanes(y + i) + av * loadLanes(x + i), y + i)
        i += 8
    }
    while i < n {
        y[i] += a * x[i]
        i += 1
    }
}

/// Σ a[i]·b[i] for i < n: 8 lane sums, added (i, i+4), (i, i+2), (0, 1), then the tail.
@inline(__always)
private func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Lanes(repeating: 0)
    var i = 0
    while i + 8 <= n {
        acc = acc + loadLanes(a + i) * loadLanes(b + i)
        i += 8
    }
    let four = acc.lowHalf + acc.highHalf
    let two = four.lowHalf + four.highHalf
    var sum = two[0] + two[1]
    while i < n {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

/// Forward: y (N, C, OH, OW) = bias[c] + Σ_taps w[c, ky, kx] · x[n, c, oy·s − p + ky, ox·s − p + kx].
/// weight (C, 1, k, k); bias (C) or nil.
public func depthwiseForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                             batch: Int, shape s: DepthwiseShape) {
    let (oh, ow, k) = (s.outHeight, s.outWidth, s.kernel)
    let inPlane = s.height * s.width, outPlane = oh * ow
    for n in 0..<batch {
        for c in 0..<s.channels {
            let xp = x + (n * s.channels + c) * inPlane
            let yp = y + (n * s.channels + c) * outPlane
            yp.update(repeating: bias?[c] ?? 0, count: outPlane)
            for ky in 0..<k {
                let rows = s.valid(tap: ky, size: s.height, outSize: oh)
                for kx in 0..<k {
                    let cols = s.valid(tap: kx, size: s.width, outSize: ow)
                    let w = weight[(c * k + ky) * k + kx]
                    for oy in rows {
                        let xrow = xp + (oy * s.stride - s.padding + ky) * s.width
                        let yrow = yp + oy * ow
                        if s.stride == 1 {
                            addScaled(yrow + cols.lowerBound, xrow + cols.lowerBound - s.padding + kx, w, cols.count)
                        } else {
                            for ox in cols { yrow[ox] += w * xrow[ox * s.stride - s.padding + kx] }
                        }
                    }
                }
            }
        }
    }
}

/// Backward: dx (overwritten, when given) = the transposed taps applied to dy; dweight and
/// dbias (accumulated) = Σ over samples and outputs of dy times the input each tap read.
public func depthwiseBackward(dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                              dbias: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>,
                              x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              batch: Int, shape s: DepthwiseShape) {
    let (oh, ow, k) = (s.outHeight, s.outWidth, s.kernel)
    let inPlane = s.height * s.width, outPlane = oh * ow
    for n in 0..<batch {
        for c in 0..<s.channels {
            let xp = x + (n * s.channels + c) * inPlane
            let dyp = dy + (n * s.channels + c) * outPlane
            let dxp = dx.map { $0 + (n * s.channels + c) * inPlane }
            dxp?.update(repeating: 0, count: inPlane)
            if let dbias { dbias[c] += vectorSum(dyp, outPlane) }
            for ky in 0..<k {
                let rows = s.valid(tap: ky, size: s.height, outSize: oh)
                for kx in 0..<k {
                    let cols = s.valid(tap: kx, size: s.width, outSize: ow)
                    let tap = (c * k + ky) * k + kx
                    let w = weight[tap]
                    var sum: Float = 0
                    for oy in rows {
                        let offset = (oy * s.stride - s.padding + ky) * s.width
                        let dyrow = dyp + oy * ow
                        if s.stride == 1 {
                            let at = cols.lowerBound - s.padding + kx
                            sum += dot(dyrow + cols.lowerBound, xp + offset + at, cols.count)
                            if let dxp { addScaled(dxp + offset + at, dyrow + cols.lowerBound, w, cols.count) }
                        } else {
                            var rowSum: Float = 0
                            for ox in cols {
                                let ix = offset + ox * s.stride - s.padding + kx
                                rowSum += dyrow[ox] * xp[ix]
                                if let dxp { dxp[ix] += w * dyrow[ox] }
                            }
                            sum += rowSum
                        }
                    }
                    dweight[tap] += sum
                }
            }
        }
    }
}
