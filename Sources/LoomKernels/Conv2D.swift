// 2-D convolution (PyTorch `nn.Conv2d`, groups = 1, dilation = 1), NCHW, lowered onto
// sgemm. Images are lowered `imagesPerGEMM` at a time into one cache-sized matrix; each
// image's GEMM then reads its column block in place (leading dimension n·P) and writes
// straight into its NCHW slice, so no layout copies surround the GEMMs.
//
// Per chunk of n images:   cols (R, n·P) = im2col(x),  R = C·K·K, P = OH·OW
//   forward:   y_i (OC, P) = w (OC, R) · cols_i (R, P) + b        (b pre-filled, beta = 1)
//   backward:  dw (OC, R) += dy_i (OC, P) · cols_iᵀ                (dL/dw = Σ_p dy·x)
//              db (OC)    += Σ_p dy_i
//              dcols_i (R, P) = wᵀ · dy_i;   dx = col2im(dcols)   (reusing the cols space)

/// y (N, OC, OH, OW) = conv(x (N, C, H, W), weight (OC, C, K, K)) + bias (OC).
/// `scratch` holds `shape.scratchCount(imagesPerGEMM:)` floats. With `moments`, also writes
/// each output plane's (mean, Σ (y − mean)²) as (N, OC, 2), computed right after the plane's
/// GEMM while it is in cache: a batch norm that follows then needs no pass of its own over
/// y for its statistics (see `batchNormPoolReLUForwardTraining`).
public func conv2dForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          batch n: Int, shape s: Conv2DShape,
                          scratch: UnsafeMutablePointer<Float>, imagesPerGEMM: Int,
                          moments: UnsafeMutablePointer<Float>? = nil) {
    let pixels = s.outPixels
    let chunkSize = max(imagesPerGEMM, 1)
    var first = 0
    while first < n {
        let count = min(chunkSize, n - first)
        let ld = count * pixels
        im2col(scratch, x + first * s.inputCount, count: count, s)
        for i in 0..<count {
            let out = y + (first + i) * s.outputCount
            if let bias {
                for oc in 0..<s.outChannels { (out + oc * pixels).update(repeating: bias[oc], count: pixels) }
            }
            gemm(false, false, s.outChannels, pixels, s.columnRows, weight, s.columnRows,
                 scratch + i * pixels, ld, beta: bias == nil ? 0 : 1, out, pixels)
            if let moments {
                for oc in 0..<s.outChannels {
                    let m = planeMoments(out + oc * pixels, pixels)
                    moments[((first + i) * s.outChannels + oc) * 2] = m.mean
                    moments[((first + i) * s.outChannels + oc) * 2 + 1] = m.squares
                }
            }
        }
        first += count
    }
}

/// Backward of `conv2dForward`: dweight (OC, C, K, K) and dbias (OC) are accumulated;
/// dx (N, C, H, W) is overwritten, or skipped when nil (the model's input).
public func conv2dBackward(dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                           dbias: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>,
                           x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           batch n: Int, shape s: Conv2DShape,
                           scratch: UnsafeMutablePointer<Float>, imagesPerGEMM: Int) {
    let pixels = s.outPixels
    let chunkSize = max(imagesPerGEMM, 1)
    var first = 0
    while first < n {
        let count = min(chunkSize, n - first)
        let ld = count * pixels
        im2col(scratch, x + first * s.inputCount, count: count, s)
        for i in 0..<count {
            let gradient = dy + (first + i) * s.outputCount
            if let dbias {
                for oc in 0..<s.outChannels { dbias[oc] += vectorSum(gradient + oc * pixels, pixels) }
            }
            gemm(false, true, s.outChannels, s.columnRows, pixels, gradient, pixels, scratch + i * pixels, ld,
                 beta: 1, dweight, s.columnRows)
        }
        guard let dx else {
            first += count
            continue
        }
        // The lowered input is no longer needed: its space receives dcols.
        for i in 0..<count {
            gemm(true, false, s.columnRows, pixels, s.outChannels, weight, s.columnRows,
                 dy + (first + i) * s.outputCount, pixels, beta: 0, scratch + i * pixels, ld)
        }
        col2im(dx + first * s.inputCount, scratch, count: count, s)
        first += count
    }
}
