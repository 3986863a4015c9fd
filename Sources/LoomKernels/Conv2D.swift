// 2-D convolution (PyTorch `nn.Conv2d`, groups = 1, dilation = 1), NCHW, lowered onto
// sgemm. Images are processed `imagesPerGEMM` at a time: the batch is folded into the GEMM
// N dimension (large, efficient GEMMs) while the lowered matrix stays cache-sized.
//
// Per chunk of n images:   cols (R, n·P) = im2col(x),  R = C·K·K, P = OH·OW
//   forward:   prod (OC, n·P) = w (OC, R) · cols;            y[i, oc, p] = prod[oc, i·P + p] + b[oc]
//   backward:  dprod (OC, n·P) gathered from dy (N, OC, OH, OW)
//              dw (OC, R)  += dprod · colsᵀ                  (dL/dw = Σ_p dy·x)
//              db (OC)     += Σ dprod[oc, :]
//              dcols (R, n·P) = wᵀ · dprod;   dx = col2im(dcols)

/// y (N, OC, OH, OW) = conv(x (N, C, H, W), weight (OC, C, K, K)) + bias (OC).
/// `scratch` holds `shape.scratchCount(imagesPerGEMM:)` floats.
public func conv2dForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          batch n: Int, shape s: Conv2DShape,
                          scratch: UnsafeMutablePointer<Float>, imagesPerGEMM: Int) {
    let pixels = s.outPixels
    let chunkSize = max(imagesPerGEMM, 1)
    var first = 0
    while first < n {
        let count = min(chunkSize, n - first)
        let columns = scratch
        let product = scratch + s.columnRows * count * pixels
        let ld = count * pixels
        im2col(columns, x + first * s.inputCount, count: count, s)
        gemm(false, false, s.outChannels, ld, s.columnRows, weight, s.columnRows,
             columns, ld, beta: 0, product, ld)
        // (OC, n·P) → (n, OC, P), adding the bias on the way.
        for oc in 0..<s.outChannels {
            let b = bias?[oc] ?? 0
            let src = product + oc * ld
            for i in 0..<count {
                vectorAffine(y + (first + i) * s.outputCount + oc * pixels, src + i * pixels, scale: 1, shift: b, pixels)
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
        let columns = scratch
        let dproduct = scratch + s.columnRows * count * pixels
        let ld = count * pixels
        // (n, OC, P) → (OC, n·P), summing the bias gradient on the way.
        for oc in 0..<s.outChannels {
            let dst = dproduct + oc * ld
            var sum: Float = 0
            for i in 0..<count {
                let src = dy + (first + i) * s.outputCount + oc * pixels
                (dst + i * pixels).update(from: src, count: pixels)
                sum += vectorSum(src, pixels)
            }
            if let dbias { dbias[oc] += sum }
        }
        im2col(columns, x + first * s.inputCount, count: count, s)
        gemm(false, true, s.outChannels, s.columnRows, ld, dproduct, ld, columns, ld,
             beta: 1, dweight, s.columnRows)
        if let dx {
            // The lowered input is no longer needed: its space receives dcols.
            gemm(true, false, s.columnRows, ld, s.outChannels, weight, s.columnRows,
                 dproduct, ld, beta: 0, columns, ld)
            col2im(dx + first * s.inputCount, columns, count: count, s)
        }
        first += count
    }
}
