// Fully connected layer, PyTorch `nn.Linear`: y = x · wᵀ + b, weight stored [out, in].

/// y (N, O) = x (N, I) · weightᵀ (I, O) + bias (O).
public func linearForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          batch n: Int, inFeatures: Int, outFeatures: Int) {
    if let bias {
        // Start from the bias and let sgemm add the product (beta = 1): one pass over y.
        for i in 0..<n {
            (y + i * outFeatures).update(from: bias, count: outFeatures)
        }
    }
    gemm(false, true, n, outFeatures, inFeatures, x, inFeatures, weight, inFeatures,
         beta: bias == nil ? 0 : 1, y, outFeatures)
}

/// Backward of `linearForward`. From y = x·wᵀ + b:
///   dx (N, I) = dy (N, O) · w (O, I)         (overwritten, or added when `accumulateInput`)
///   dweight (O, I) += dyᵀ (O, N) · x (N, I)   (accumulated)
///   dbias (O) += Σ_n dy[n, :]                (accumulated)
/// Pass `dx: nil` when the input needs no gradient (the model's input).
public func linearBackward(dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                           dbias: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>,
                           x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           batch n: Int, inFeatures: Int, outFeatures: Int,
                           accumulateInput: Bool = false) {
    if let dx {
        gemm(false, false, n, inFeatures, outFeatures, dy, outFeatures, weight, inFeatures,
             beta: accumulateInput ? 1 : 0, dx, inFeatures)
    }
    gemm(true, false, outFeatures, inFeatures, n, dy, outFeatures, x, inFeatures,
         beta: 1, dweight, inFeatures)
    if let dbias {
        for i in 0..<n {
            let row = dy + i * outFeatures
            for o in 0..<outFeatures { dbias[o] += row[o] }
        }
    }
}
