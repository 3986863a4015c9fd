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
//
// Two shapes skip the lowering where it is not needed:
// - pointwise (1×1, stride 1, no padding): x_i (C, P) already is the lowered matrix, so the
//   GEMMs read x_i and write dx_i in place: no im2col, no col2im;
// - "same" (stride 1, K = 2P + 1, ShiftedPlane): dx is the same convolution of dy with the
//   weights flipped in (kh, kw) and transposed in (oc, c), so it is lowered like a forward
//   pass (shifted copies of dy, OC·K·K rows) and one GEMM of reduction length OC·K·K writes
//   dx_i in place, instead of a GEMM of reduction length OC into dcols and a scatter-add.

/// y (N, OC, OH, OW) = conv(x (N, C, H, W), weight (OC, C, K, K)) + bias (OC).
/// `scratch` holds `shape.scratchCount(imagesPerGEMM:)` floats. With `moments`, also writes
/// each output plane's (mean, Σ (y − mean)²) as (N, OC, 2), computed right after the plane's
/// GEMM while it is in cache: a batch norm that follows then needs no pass of its own over
/// y for its statistics (see `batchNormPoolReLUForwardTraining`). With `winograd`, a shape
/// `usesWinogradForward` takes runs the Winograd kernel (other bits than the direct
/// kernels'; Winograd.swift).
public func conv2dForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          batch n: Int, shape s: Conv2DShape,
                          scratch: UnsafeMutablePointer<Float>, imagesPerGEMM: Int,
                          moments: UnsafeMutablePointer<Float>? = nil, winograd: Bool = false) {
    let pixels = s.outPixels
    if winograd && s.usesWinogradForward || s.forwardKernel != nil {
        if winograd && s.usesWinogradForward {
            winogradConvForward(y: y, x: x, weight: weight, bias: bias, batch: n, shape: s)
        } else {
            directConvForward(y: y, x: x, weight: weight, bias: bias, batch: n, shape: s)
        }
        if let moments {
            for i in 0..<n {
                for oc in 0..<s.outChannels {
                    let m = planeMoments(y + i * s.outputCount + oc * pixels, pixels)
                    moments[(i * s.outChannels + oc) * 2] = m.mean
                    moments[(i * s.outChannels + oc) * 2 + 1] = m.squares
                }
            }
        }
        return
    }
    let chunkSize = max(imagesPerGEMM, 1)
    let pointwise = s.isPointwise
    var first = 0
    while first < n {
        let count = min(chunkSize, n - first)
        let ld = count * pixels
        if !pointwise { im2col(scratch, x + first * s.inputCount, count: count, s) }
        for i in 0..<count {
            let out = y + (first + i) * s.outputCount
            if let bias {
                for oc in 0..<s.outChannels { (out + oc * pixels).update(repeating: bias[oc], count: pixels) }
            }
            let (columns, ldColumns) = pointwise ? (x + (first + i) * s.inputCount, pixels) : (UnsafePointer(scratch + i * pixels), ld)
            gemm(false, false, s.outChannels, pixels, s.columnRows, weight, s.columnRows,
                 columns, ldColumns, beta: bias == nil ? 0 : 1, out, pixels)
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
/// dx (N, C, H, W) is overwritten, or skipped when nil (the model's input). With `winograd`,
/// dx and dweight of the shapes `usesWinogradInputGradient` and `usesWinogradWeightGradient`
/// take run the Winograd kernel (dweight's bits then depend on the batch `n` as a whole: call
/// it with the whole micro-shard).
public func conv2dBackward(dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                           dbias: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>,
                           x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           batch n: Int, shape s: Conv2DShape,
                           scratch: UnsafeMutablePointer<Float>, imagesPerGEMM: Int, winograd: Bool = false) {
    let pixels = s.outPixels
    if let dbias {
        for i in 0..<n {
            for oc in 0..<s.outChannels { dbias[oc] += vectorSum(dy + i * s.outputCount + oc * pixels, pixels) }
        }
    }
    let directWeight = winograd && s.usesWinogradWeightGradient || s.weightGradientKernel != nil
    if let target = dx, winograd && s.usesWinogradWeightGradient && s.usesWinogradInputGradient {
        // Both by Winograd: one call, one padded copy of dy.
        winogradConvBackward(dx: target, dweight: dweight, dy: dy, x: x, weight: weight, batch: n, shape: s)
        return
    }
    if winograd && s.usesWinogradWeightGradient {
        winogradConvWeightGradient(dweight: dweight, dy: dy, x: x, batch: n, shape: s)
    } else if directWeight {
        directConvWeightGradient(dweight: dweight, dy: dy, x: x, batch: n, shape: s)
    }
    var dx = dx
    if let target = dx, winograd && s.usesWinogradInputGradient {
        winogradConvInputGradient(dx: target, dy: dy, weight: weight, batch: n, shape: s)
        dx = nil
    } else if let target = dx, s.usesDirectInputGradient {
        directConvInputGradient(dx: target, dy: dy, weight: weight, batch: n, shape: s)
        dx = nil
    } else if let target = dx, s.usesStridedInputGradient {
        directConvStridedInputGradient(dx: target, dy: dy, weight: weight, batch: n, shape: s)
        dx = nil
    }
    if directWeight && dx == nil { return }
    let chunkSize = max(imagesPerGEMM, 1)
    let pointwise = s.isPointwise
    // Same convolutions: dx by the flipped convolution when a chunk's lowered dy fits in the
    // scratch (OC·K·K rows of at least one image).
    let flipped = dx != nil && !pointwise && ShiftedPlane.applies(to: s) && s.kernel > 1
        ? s.transposedSame : nil
    let flippedImages = flipped.map { s.scratchCount(imagesPerGEMM: chunkSize) / max($0.scratchCount(imagesPerGEMM: 1), 1) } ?? 0
    let flippedWeight: [Float] = flippedImages > 0 ? flippedWeights(weight, s) : []
    var first = 0
    while first < n {
        let count = min(chunkSize, n - first)
        let ld = count * pixels
        if !pointwise && !directWeight { im2col(scratch, x + first * s.inputCount, count: count, s) }
        for i in 0..<count where !directWeight {
            let gradient = dy + (first + i) * s.outputCount
            let (columns, ldColumns) = pointwise ? (x + (first + i) * s.inputCount, pixels) : (UnsafePointer(scratch + i * pixels), ld)
            gemm(false, true, s.outChannels, s.columnRows, pixels, gradient, pixels, columns, ldColumns,
                 beta: 1, dweight, s.columnRows)
        }
        guard let dx else {
            first += count
            continue
        }
        if pointwise {
            for i in 0..<count {
                gemm(true, false, s.inChannels, pixels, s.outChannels, weight, s.inChannels,
                     dy + (first + i) * s.outputCount, pixels, beta: 0, dx + (first + i) * s.inputCount, pixels)
            }
        } else if let flipped, flippedImages > 0 {
            // dx_i (C, P) = w′ (C, OC·K·K) · lowered dy_i, a few images at a time.
            var done = 0
            while done < count {
                let part = min(flippedImages, count - done)
                im2col(scratch, dy + (first + done) * s.outputCount, count: part, flipped)
                for i in 0..<part {
                    gemm(false, false, s.inChannels, pixels, flipped.columnRows, flippedWeight, flipped.columnRows,
                         scratch + i * pixels, part * pixels, beta: 0, dx + (first + done + i) * s.inputCount, pixels)
                }
                done += part
            }
        } else {
            // The lowered input is no longer needed: its space receives dcols.
            for i in 0..<count {
                gemm(true, false, s.columnRows, pixels, s.outChannels, weight, s.columnRows,
                     dy + (first + i) * s.outputCount, pixels, beta: 0, scratch + i * pixels, ld)
            }
            col2im(dx + first * s.inputCount, scratch, count: count, s)
        }
        first += count
    }
}

/// w′ (C, OC, K, K) with w′[c, oc, kh, kw] = w[oc, c, K−1−kh, K−1−kw]: the weights of the
/// convolution that maps dy to dx for a "same" convolution.
func flippedWeights(_ w: UnsafePointer<Float>, _ s: Conv2DShape) -> [Float] {
    let (c, oc, k) = (s.inChannels, s.outChannels, s.kernel)
    return [Float](unsafeUninitializedCapacity: s.weightCount) { out, initialised in
        for ci in 0..<c {
            for o in 0..<oc {
                for kh in 0..<k {
                    for kw in 0..<k {
                        out[((ci * oc + o) * k + kh) * k + kw] = w[((o * c + ci) * k + (k - 1 - kh)) * k + (k - 1 - kw)]
                    }
                }
            }
        }
        initialised = s.weightCount
    }
}

extension Conv2DShape {
    /// 1×1, stride 1, no padding: the input is its own lowered matrix.
    var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    /// The convolution dy → dx of a "same" convolution: OC input channels, C output channels.
    var transposedSame: Conv2DShape {
        Conv2DShape(inChannels: outChannels, outChannels: inChannels, height: height, width: width,
                    kernel: kernel, stride: 1, padding: padding)
    }
}
