// Batch normalisation (PyTorch `BatchNorm1d` on (N, C) and `BatchNorm2d` on (N, C, H, W)).
// Both are the same computation over x viewed as (N, C, S), S = H·W (S = 1 for 1-D):
// statistics per channel over the M = N·S values of that channel.
//
//   mean = Σx / M,  var = Σ(x − mean)² / M (biased, used to normalise),
//   x̂ = (x − mean) · invStd,  invStd = 1/√(var + eps),  y = γ·x̂ + β
// Backward (batch statistics), from the chain rule through mean and var:
//   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ·invStd/M · (M·dy − dβ − x̂·dγ)
// With running statistics (eval), mean and invStd are constants: dx = γ·invStd·dy.

/// Training-mode forward: y (N, C, S) from the batch statistics of x (N, C, S).
/// Writes per channel (C): `mean`, `invStd` (for the backward pass) and `unbiasedVar`
/// = var·M/(M−1), which PyTorch blends into running_var (for M = 1, where that would divide
/// by zero, the biased value).
import CKernels

public func batchNormForwardTraining(y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
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
            vectorAffine(y + plane, x + plane, scale: scale, shift: shift, spatial)
        }
    }
}

/// Channel `c`'s statistics stored into `mean`, `invStd` and `unbiasedVar`, and the affine map
/// y = scale·x + shift they give with γ = weight[c], β = bias[c]: the training-mode forward's
/// per-channel set-up, shared by batch norm and its fusion with ReLU.
@inline(__always)
func channelAffine(_ x: UnsafePointer<Float>, batch n: Int, channels: Int, spatial: Int, channel c: Int, eps: Float,
                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, mean: UnsafeMutablePointer<Float>,
                   invStd: UnsafeMutablePointer<Float>, unbiasedVar: UnsafeMutablePointer<Float>)
    -> (scale: Float, shift: Float) {
    let stats = channelStatistics(x, batch: n, channels: channels, spatial: spatial, channel: c, eps: eps)
    mean[c] = stats.mean
    invStd[c] = stats.invStd
    unbiasedVar[c] = stats.unbiasedVar
    let scale = weight[c] * stats.invStd
    return (scale, bias[c] - stats.mean * scale)
}

/// Channel `c`'s batch statistics of x (N, C, S): mean, 1/√(var + eps) with the biased var,
/// and the unbiased var (the biased one when M = N·S = 1). Two passes with Double
/// accumulators across planes: exact enough for long planes.
@inline(__always)
func channelStatistics(_ x: UnsafePointer<Float>, batch n: Int, channels: Int, spatial: Int, channel c: Int,
                       eps: Float) -> (mean: Float, invStd: Float, unbiasedVar: Float) {
    let m = n * spatial
    var sum = 0.0
    for i in 0..<n { sum += Double(vectorSum(x + (i * channels + c) * spatial, spatial)) }
    let mu = Float(sum / Double(m))
    var squares = 0.0
    for i in 0..<n { squares += Double(vectorCentredSquares(x + (i * channels + c) * spatial, shift: mu, spatial)) }
    let variance = squares / Double(m)
    let inv = 1 / (variance + Double(eps)).squareRoot()
    return (mu, Float(inv), Float(m > 1 ? variance * Double(m) / Double(m - 1) : variance))
}

/// invStd (C) = 1/√(variance + eps), e.g. from running_var for the eval-mode passes.
public func batchNormInverseStd(invStd: UnsafeMutablePointer<Float>, variance: UnsafePointer<Float>,
                                channels: Int, eps: Float) {
    for c in 0..<channels {
        invStd[c] = Float(1 / (Double(variance[c]) + Double(eps)).squareRoot())
    }
}

/// Eval-mode forward: y = γ·(x − mean)·invStd + β with fixed per-channel `mean` and `invStd`
/// (the running statistics; see `batchNormInverseStd`).
public func batchNormForwardInference(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                      weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                      mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                                      batch n: Int, channels: Int, spatial: Int) {
    for i in 0..<n {
        for c in 0..<channels {
            let scale = weight[c] * invStd[c]
            let shift = bias[c] - mean[c] * scale
            let plane = (i * channels + c) * spatial
            vectorAffine(y + plane, x + plane, scale: scale, shift: shift, spatial)
        }
    }
}

/// Backward of either forward. dweight (C) and dbias (C) are accumulated; dx (N, C, S) is
/// overwritten (skipped when nil). `mean`/`invStd` are those the forward used; with
/// `batchStatistics` false they are constants (eval mode).
public func batchNormBackward(dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                              dbias: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                              x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                              batch n: Int, channels: Int, spatial: Int, batchStatistics: Bool) {
    let m = Float(n * spatial)
    for c in 0..<channels {
        let mu = mean[c]
        let inv = invStd[c]
        var sumDy = 0.0
        var sumDyXhat = 0.0
        for i in 0..<n {
            let plane = (i * channels + c) * spatial
            let (a, b) = vectorSumAndCentredDot(dy + plane, x + plane, shift: mu, spatial)
            sumDy += Double(a)
            sumDyXhat += Double(b) * Double(inv)
        }
        dbias[c] += Float(sumDy)
        dweight[c] += Float(sumDyXhat)
        guard let dx else { continue }
        let scale = weight[c] * inv
        if batchStatistics {
            // dx = γ·invStd·(dy − dβ/M − x̂·dγ/M), x̂ = (x − mean)·invStd
            let meanDy = Float(sumDy) / m
            let k = Float(sumDyXhat) / m * inv
            // dx = scale·dy − scale·k·(x − mean) − scale·meanDy, centred before scaling
            // so that a large mean does not cost precision.
            for i in 0..<n {
                let plane = (i * channels + c) * spatial
                loom_scaled_plus_centred_affine(dx + plane, dy + plane, scale, x + plane, mu, -scale * k, -scale * meanDy, spatial)
            }
        } else {
            for i in 0..<n {
                let g = dy + (i * channels + c) * spatial
                let d = dx + (i * channels + c) * spatial
                for s in 0..<spatial { d[s] = scale * g[s] }
            }
        }
    }
}

/// running ← (1 − momentum)·running + momentum·batch, per channel, for both statistics
/// (`batchVar` is the unbiased batch variance).
public func batchNormUpdateRunning(runningMean: UnsafeMutablePointer<Float>,
                                   runningVar: UnsafeMutablePointer<Float>,
                                   batchMean: UnsafePointer<Float>, batchVar: UnsafePointer<Float>,
                                   channels: Int, momentum: Float) {
    for c in 0..<channels {
        runningMean[c] = (1 - momentum) * runningMean[c] + momentum * batchMean[c]
        runningVar[c] = (1 - momentum) * runningVar[c] + momentum * batchVar[c]
    }
}
