// Batch norm → ReLU and the residual sum → ReLU in one pass each (CKernelsNorm.h), for the
// blocks of ResNet-class networks. Same bits as `batchNormForwardTraining` (or
// `batchNormForwardInference`) followed by `reluForward`, and as `reluBackward` followed by
// `batchNormBackward`: the fused kernels perform the unfused ones' operations in their order.
// What they save is memory traffic: the normalised tensor is never stored and read back, and
// the masked gradient is never stored between the ReLU's backward pass and batch norm's.
import CKernels

/// Training-mode forward of batch norm then ReLU: y = relu(γ·x̂ + β) (N, C, S), with the
/// statistics of `batchNormForwardTraining`.
public func batchNormReLUForwardTraining(y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                         invStd: UnsafeMutablePointer<Float>,
                                         unbiasedVar: UnsafeMutablePointer<Float>,
                                         x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                         bias: UnsafePointer<Float>, batch n: Int, channels: Int,
                                         spatial: Int, eps: Float) {
    for c in 0..<channels {
        let (scale, shift) = channelAffine(x, batch: n, channels: channels, spatial: spatial, channel: c, eps: eps,
                                           weight: weight, bias: bias, mean: mean, invStd: invStd,
                                           unbiasedVar: unbiasedVar)
        for i in 0..<n {
            let plane = (i * channels + c) * spatial
            loom_affine_relu(y + plane, x + plane, scale, shift, spatial)
        }
    }
}

/// Eval-mode forward of batch norm then ReLU, with fixed `mean` and `invStd`.
public func batchNormReLUForwardInference(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                          mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                                          batch n: Int, channels: Int, spatial: Int) {
    for i in 0..<n {
        for c in 0..<channels {
            let scale = weight[c] * invStd[c]
            let shift = bias[c] - mean[c] * scale
            let plane = (i * channels + c) * spatial
            loom_affine_relu(y + plane, x + plane, scale, shift, spatial)
        }
    }
}

/// Backward of batch norm (batch statistics) then ReLU: dy is the gradient of the ReLU's
/// output y; dweight and dbias are accumulated and dx (N, C, S) overwritten (skipped when nil),
/// as `reluBackward` then `batchNormBackward(batchStatistics: true)` would, bit for bit.
public func batchNormReLUBackward(dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                  dbias: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                  y: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                  mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                                  batch n: Int, channels: Int, spatial: Int) {
    let m = Float(n * spatial)
    for c in 0..<channels {
        let mu = mean[c]
        let inv = invStd[c]
        var sumDy = 0.0
        var sumDyXhat = 0.0
        for i in 0..<n {
            let plane = (i * channels + c) * spatial
            var a: Float = 0, b: Float = 0
            loom_relu_gated_sum_and_centred_dot(dy + plane, y + plane, x + plane, mu, spatial, &a, &b)
            sumDy += Double(a)
            sumDyXhat += Double(b) * Double(inv)
        }
        dbias[c] += Float(sumDy)
        dweight[c] += Float(sumDyXhat)
        guard let dx else { continue }
        let scale = weight[c] * inv
        let meanDy = Float(sumDy) / m
        let k = Float(sumDyXhat) / m * inv
        for i in 0..<n {
            let plane = (i * channels + c) * spatial
            loom_relu_gated_scaled_plus_centred_affine(dx + plane, dy + plane, y + plane, scale, x + plane, mu,
                                                       -scale * k, -scale * meanDy, spatial)
        }
    }
}

/// y = relu(x + body): a residual sum and the ReLU after it.
public func residualAddReLUForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                   body: UnsafePointer<Float>, count: Int) {
    loom_add_relu(y, x, body, count)
}

/// The ReLU's backward pass through y, its result written to both `dx` (may be dy) and
/// `copy`: the gradient that a residual block's sum hands to both of its branches.
public func reluBackwardTwice(dx: UnsafeMutablePointer<Float>, copy: UnsafeMutablePointer<Float>,
                              dy: UnsafePointer<Float>, y: UnsafePointer<Float>, count: Int) {
    loom_relu_backward_twice(dx, copy, dy, y, count)
}
