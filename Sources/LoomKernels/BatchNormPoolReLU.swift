// Batch norm → 2x2 max pool (stride 2) → ReLU in one pass, the tail of a conv block
// (conv, BN, ReLU, max pool: ReLU and max pool commute, see the model builder). Same
// numbers as the three kernels in a row, but the normalised tensor z (N, C, H, W) is never
// stored: the forward pass writes only the pooled output, and the backward pass works
// from the pooled gradient, which reaches z at one element per window.
//
// Forward, per channel: z = scale·x + shift (scale = γ·invStd, shift = β − mean·scale, as
// `batchNormForwardTraining`), y = max(0, max of each 2x2 window of z), argmax = index
// h·W + w of the window's first maximum in scan order (as `maxPool2dForward`).
// `selected` keeps x at each argmax, so that the backward reductions read pooled-size
// arrays only instead of gathering from x.
// Backward: dz = dy at argmax where y > 0, else 0. With M = N·H·W,
//   dβ = Σ dz,  dγ = Σ dz·x̂,  dx = scale·(dz − dβ/M − (x − mean)·invStd·dγ/M)
// (eval mode: dx = scale·dz). dx is written whole, then the M/4 window gradients added.

/// Training-mode forward: y, argmax, selected = x at argmax (N, C, H/2, W/2) ← x (N, C, H, W)
/// with batch statistics. `moments` (N, C, 2), when given, holds each plane's (mean,
/// Σ (x − mean)²) from `conv2dForward`, which are then combined (Chan et al.) instead of
/// reading x twice more.
/// Writes per channel `mean`, `invStd` and `unbiasedVar` as `batchNormForwardTraining`.
/// Odd H or W drop the last row or column from pooling (floor mode), not from the statistics.
import CKernels

public func batchNormPoolReLUForwardTraining(y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                                             selected: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                             invStd: UnsafeMutablePointer<Float>,
                                             unbiasedVar: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                             batch n: Int, channels: Int, height: Int, width: Int, eps: Float,
                                             moments: UnsafePointer<Float>? = nil) {
    let spatial = height * width
    for c in 0..<channels {
        let stats = moments.map {
            combinedStatistics($0, batch: n, channels: channels, spatial: spatial, channel: c, eps: eps)
        } ?? channelStatistics(x, batch: n, channels: channels, spatial: spatial, channel: c, eps: eps)
        mean[c] = stats.mean
        invStd[c] = stats.invStd
        unbiasedVar[c] = stats.unbiasedVar
        let scale = weight[c] * stats.invStd
        poolReLUChannel(y: y, argmax: argmax, selected: selected, x: x, scale: scale, shift: bias[c] - stats.mean * scale,
                        batch: n, channels: channels, channel: c, height: height, width: width)
    }
}

/// Channel c's statistics as `channelStatistics` gives them, from per-plane (mean, Σ (x − mean)²)
/// pairs (N, C, 2), merged in Double with Chan et al.'s pairwise update.
private func combinedStatistics(_ moments: UnsafePointer<Float>, batch n: Int, channels: Int, spatial: Int,
                                channel c: Int, eps: Float) -> (mean: Float, invStd: Float, unbiasedVar: Float) {
    var count = 0.0, mean = 0.0, squares = 0.0
    let size = Double(spatial)
    for i in 0..<n {
        let planeMean = Double(moments[(i * channels + c) * 2]), planeSquares = Double(moments[(i * channels + c) * 2 + 1])
        let delta = planeMean - mean
        let total = count + size
        mean += delta * size / total
        squares += planeSquares + delta * delta * count * size / total
        count = total
    }
    let m = n * spatial
    let variance = squares / Double(m)
    let inv = 1 / (variance + Double(eps)).squareRoot()
    return (Float(mean), Float(inv), Float(m > 1 ? variance * Double(m) / Double(m - 1) : variance))
}

/// Eval-mode forward with fixed per-channel `mean` and `invStd` (the running statistics).
public func batchNormPoolReLUForwardInference(y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                                              selected: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                              weight: UnsafePointer<Float>,
                                              bias: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                              invStd: UnsafePointer<Float>, batch n: Int, channels: Int,
                                              height: Int, width: Int) {
    for c in 0..<channels {
        let scale = weight[c] * invStd[c]
        poolReLUChannel(y: y, argmax: argmax, selected: selected, x: x, scale: scale, shift: bias[c] - mean[c] * scale,
                        batch: n, channels: channels, channel: c, height: height, width: width)
    }
}

/// Backward of either forward. dweight (C) and dbias (C) are accumulated; dx (N, C, H, W) is
/// overwritten (skipped when nil). dy and y are the gradient and value of the pooled,
/// rectified output (N, C, H/2, W/2); argmax, selected, x, mean, invStd are those of the
/// forward pass.
public func batchNormPoolReLUBackward(dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                      dbias: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                      y: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
                                      selected: UnsafePointer<Float>,
                                      x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                      mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                                      batch n: Int, channels: Int, height: Int, width: Int,
                                      batchStatistics: Bool) {
    let g = PooledGradient(dy: dy, y: y, argmax: argmax, selected: selected, x: x, batch: n, channels: channels,
                           height: height, width: width)
    for c in 0..<channels {
        let t = g.coefficients(channel: c, mean: mean[c], invStd: invStd[c], batchStatistics: batchStatistics,
                               dweight: dweight, dbias: dbias)
        guard let dx else { continue }
        for i in 0..<n {
            g.inputGradient(dx, image: i, channel: c, scale: weight[c] * invStd[c], mean: mean[c],
                            meanDz: t.meanDz, slope: t.slope)
        }
    }
}

/// The first half of `batchNormPoolReLUBackward`, over the whole batch: accumulates dweight
/// and dbias (C) and writes per channel the two coefficients of dx, `meanDz` = Σ dz / M and
/// `slope` = Σ dz·x̂ / M · invStd (both 0 in eval mode). Then `batchNormPoolReLUBackwardInput`
/// can produce dx a few images at a time, each block consumed while it is in cache.
public func batchNormPoolReLUBackwardParameters(dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
                                                meanDz: UnsafeMutablePointer<Float>,
                                                slope: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                                y: UnsafePointer<Float>, selected: UnsafePointer<Float>,
                                                mean: UnsafePointer<Float>,
                                                invStd: UnsafePointer<Float>, batch n: Int, channels: Int,
                                                height: Int, width: Int, batchStatistics: Bool) {
    let g = PooledGradient(dy: dy, y: y, argmax: nil, selected: selected, x: nil, batch: n, channels: channels,
                           height: height, width: width)
    for c in 0..<channels {
        let t = g.coefficients(channel: c, mean: mean[c], invStd: invStd[c], batchStatistics: batchStatistics,
                               dweight: dweight, dbias: dbias)
        meanDz[c] = t.meanDz
        slope[c] = t.slope
    }
}

/// The second half of `batchNormPoolReLUBackward`: dx of images `images` (all pointers
/// address the whole batch of N = `batch` images; only those images' planes are touched).
public func batchNormPoolReLUBackwardInput(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                           y: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
                                           x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                           mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                                           meanDz: UnsafePointer<Float>, slope: UnsafePointer<Float>,
                                           batch n: Int, images: Range<Int>, channels: Int, height: Int, width: Int) {
    let g = PooledGradient(dy: dy, y: y, argmax: argmax, selected: nil, x: x, batch: n, channels: channels,
                           height: height, width: width)
    for i in images {
        for c in 0..<channels {
            g.inputGradient(dx, image: i, channel: c, scale: weight[c] * invStd[c], mean: mean[c],
                            meanDz: meanDz[c], slope: slope[c])
        }
    }
}

/// The tensors of one fused backward pass and the two per-plane loops.
/// (Each half needs only some of the tensors; the others are nil.)
private struct PooledGradient {
    let dy: UnsafePointer<Float>, y: UnsafePointer<Float>
    let argmax: UnsafePointer<Int32>?, selected: UnsafePointer<Float>?, x: UnsafePointer<Float>?
    let n: Int, channels: Int, spatial: Int, pooled: Int

    init(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, argmax: UnsafePointer<Int32>?,
         selected: UnsafePointer<Float>?, x: UnsafePointer<Float>?,
         batch: Int, channels: Int, height: Int, width: Int) {
        (self.dy, self.y, self.argmax, self.selected, self.x) = (dy, y, argmax, selected, x)
        (n, self.channels, spatial, pooled) = (batch, channels, height * width, (height / 2) * (width / 2))
    }

    /// Channel c: dβ += Σ dz, dγ += Σ dz·x̂ (dz is nonzero only at the window maxima), and
    /// dx's coefficients.
    @inline(__always)
    func coefficients(channel c: Int, mean mu: Float, invStd inv: Float, batchStatistics: Bool,
                      dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>)
        -> (meanDz: Float, slope: Float) {
        var sumDz = 0.0, sumDzCentred = 0.0
        for i in 0..<n {
            let plane = i * channels + c
            // The ReLU mask as a lane select (CKernels): a branch on it would mispredict.
            var a1: Float = 0, b1: Float = 0
            loom_gated_sum_and_centred_dot(dy + plane * pooled, y + plane * pooled, selected! + plane * pooled, mu, pooled,
                                           &a1, &b1)
            sumDz += Double(a1)
            sumDzCentred += Double(b1)
        }
        dbias[c] += Float(sumDz)
        dweight[c] += Float(sumDzCentred * Double(inv))
        guard batchStatistics else { return (0, 0) }
        let m = Float(n * spatial)
        return (Float(sumDz) / m, Float(sumDzCentred * Double(inv)) / m * inv)
    }

    /// dx's plane (i, c) = scale·(dz − meanDz − (x − mean)·slope), scale = γ·invStd: the
    /// terms every element gets, then each window's gradient added at its maximum.
    @inline(__always)
    func inputGradient(_ dx: UnsafeMutablePointer<Float>, image i: Int, channel c: Int, scale: Float, mean mu: Float,
                       meanDz: Float, slope k: Float) {
        let plane = i * channels + c
        let d = dx + plane * spatial
        loom_centred_affine(d, x! + plane * spatial, mu, -scale * k, -scale * meanDz, spatial)
        let (g, v, at) = (dy + plane * pooled, y + plane * pooled, argmax! + plane * pooled)
        let lanesScale = Lanes(repeating: scale)
        var o = 0
        while o + 8 <= pooled {
            let add = gatedGradient(g + o, v + o) * lanesScale
            for l in 0..<8 { d[Int(at[o + l])] += add[l] }
            o += 8
        }
        while o < pooled {
            d[Int(at[o])] += v[o] > 0 ? scale * g[o] : 0
            o += 1
        }
    }
}

/// z = scale·x + shift, 2x2 max pool, ReLU for channel c of every image (see the header):
/// CKernels' `loom_pool_relu_plane`, 16 windows at a time at the host's vector width.
@inline(__always)
private func poolReLUChannel(y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                             selected: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, scale: Float,
                             shift: Float, batch n: Int, channels: Int, channel c: Int, height: Int, width w: Int) {
    let pooled = (height / 2) * (w / 2)
    let end = x + n * channels * height * w
    for i in 0..<n {
        let plane = i * channels + c
        loom_pool_relu_plane(y + plane * pooled, argmax + plane * pooled, selected + plane * pooled,
                             x + plane * height * w, end, scale, shift, height, w)
    }
}

/// g where v > 0, else 0, for 8 lanes (the ReLU backward on the pooled grid).
@inline(__always)
private func gatedGradient(_ g: UnsafePointer<Float>, _ v: UnsafePointer<Float>) -> Lanes {
    loadLanes(g).replacing(with: 0, where: .!(loadLanes(v) .> 0))
}
