// Max, average and global average pooling over NCHW planes (PyTorch `MaxPool2d`,
// `AvgPool2d` with count_include_pad = True, `AdaptiveAvgPool2d(1)`), floor mode.

/// y (N, C, OH, OW) = max over each window of x (N, C, H, W); padding never wins.
/// argmax (N, C, OH, OW) records the winning index inside its input plane (h·W + w) for
/// the backward pass; ties go to the first element in scan order, as in PyTorch.
public func maxPool2dForward(y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                             x: UnsafePointer<Float>, batch n: Int, shape s: Pool2DShape) {
    let (oh, ow) = (s.outHeight, s.outWidth)
    let planeIn = s.height * s.width
    if s.kernel == 2 && s.stride == 2 && s.padding == 0 {
        maxPool2x2Forward(y: y, argmax: argmax, x: x, planes: n * s.channels, shape: s)
        return
    }
    for plane in 0..<(n * s.channels) {
        let src = x + plane * planeIn
        for r in 0..<oh {
            let h0 = max(r * s.stride - s.padding, 0)
            let h1 = min(r * s.stride - s.padding + s.kernel, s.height)
            for c in 0..<ow {
                let w0 = max(c * s.stride - s.padding, 0)
                let w1 = min(c * s.stride - s.padding + s.kernel, s.width)
                var best = h0 * s.width + w0
                var value = -Float.infinity
                for h in h0..<h1 {
                    for w in w0..<w1 where src[h * s.width + w] > value || src[h * s.width + w].isNaN {
                        value = src[h * s.width + w]
                        best = h * s.width + w
                        if value.isNaN { break }
                    }
                }
                y[plane * oh * ow + r * ow + c] = value
                argmax[plane * oh * ow + r * ow + c] = Int32(best)
            }
        }
    }
}

/// dx (N, C, H, W) = dy routed to each window's argmax (overwritten; overlapping windows add).
public func maxPool2dBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                              argmax: UnsafePointer<Int32>, batch n: Int, shape s: Pool2DShape) {
    let outPlane = s.outHeight * s.outWidth
    let inPlane = s.height * s.width
    if s.kernel == 2 && s.stride == 2 && s.padding == 0 && s.height % 2 == 0 && s.width % 2 == 0 {
        maxPool2x2Backward(dx: dx, dy: dy, argmax: argmax, planes: n * s.channels, shape: s)
        return
    }
    dx.update(repeating: 0, count: n * s.inputCount)
    for plane in 0..<(n * s.channels) {
        let d = dx + plane * inPlane
        for o in 0..<outPlane {
            d[Int(argmax[plane * outPlane + o])] += dy[plane * outPlane + o]
        }
    }
}

/// The window of output (r, c) clipped to the image, and PyTorch's divisor: the window
/// size clipped to the padded image (count_include_pad = True).
@inline(__always)
private func averageWindow(_ s: Pool2DShape, _ r: Int, _ c: Int)
    -> (rows: Range<Int>, columns: Range<Int>, divisor: Float) {
    let hs = r * s.stride - s.padding
    let ws = c * s.stride - s.padding
    let he = min(hs + s.kernel, s.height + s.padding)
    let we = min(ws + s.kernel, s.width + s.padding)
    let divisor = Float((he - hs) * (we - ws))
    return (max(hs, 0)..<min(he, s.height), max(ws, 0)..<min(we, s.width), divisor)
}

/// y (N, C, OH, OW) = mean of each window of x (N, C, H, W), zero padding counted.
public func avgPool2dForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                             batch n: Int, shape s: Pool2DShape) {
    let (oh, ow) = (s.outHeight, s.outWidth)
    for plane in 0..<(n * s.channels) {
        let src = x + plane * s.height * s.width
        for r in 0..<oh {
            for c in 0..<ow {
                let window = averageWindow(s, r, c)
                var sum: Float = 0
                for h in window.rows {
                    for w in window.columns { sum += src[h * s.width + w] }
                }
                y[plane * oh * ow + r * ow + c] = sum / window.divisor
            }
        }
    }
}

/// dx (N, C, H, W): each dy spread evenly over its window (overwritten).
public func avgPool2dBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                              batch n: Int, shape s: Pool2DShape) {
    let (oh, ow) = (s.outHeight, s.outWidth)
    dx.update(repeating: 0, count: n * s.inputCount)
    for plane in 0..<(n * s.channels) {
        let d = dx + plane * s.height * s.width
        for r in 0..<oh {
            for c in 0..<ow {
                let window = averageWindow(s, r, c)
                let g = dy[plane * oh * ow + r * ow + c] / window.divisor
                for h in window.rows {
                    for w in window.columns { d[h * s.width + w] += g }
                }
            }
        }
    }
}

/// y (N, C) = mean of each plane of x (N, C, H, W); `spatial` = H·W.
public func globalAvgPoolForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                 batch n: Int, channels: Int, spatial: Int) {
    for plane in 0..<(n * channels) {
        let src = x + plane * spatial
        var sum: Float = 0
        for p in 0..<spatial { sum += src[p] }
        y[plane] = sum / Float(spatial)
    }
}

/// dx (N, C, H, W) = dy (N, C) / (H·W) at every pixel (overwritten).
public func globalAvgPoolBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                  batch n: Int, channels: Int, spatial: Int) {
    for plane in 0..<(n * channels) {
        (dx + plane * spatial).update(repeating: dy[plane] / Float(spatial), count: spatial)
    }
}
