// Squeeze-and-excitation (torchvision `SqueezeExcitation`): per sample, the channel means
// s (C) of x (C, H, W) pass through fc1 (C → R, a 1×1 convolution with bias), an activation
// (ReLU or SiLU), fc2 (R → C) and a sigmoid; each channel of x is scaled by its gate:
//   s = mean_hw x,  z = W1·s + b1,  a = act(z),  g = σ(W2·a + b2),  y = x·g[c].
// The vectors are small (C ≤ a few hundred, R = C/4...C/24), so the matrix-vector products are
// plain loops summed in index order: the same bits on every host and batch split. The
// loops over planes (mean, gate, Σ dy·x, dx) run in CKernels at the host's vector width.
import CKernels

/// The per-sample vectors a forward pass keeps for the backward pass: (N, C + R + R + C)
/// holding s, z, a and g.
public struct SqueezeExciteShape: Equatable, Sendable {
    public let channels: Int, spatial: Int, squeezed: Int
    public let silu: Bool

    public init(channels: Int, spatial: Int, squeezed: Int, silu: Bool) {
        self.channels = channels; self.spatial = spatial; self.squeezed = squeezed; self.silu = silu
    }

    /// Floats saved per sample.
    public var savedCount: Int { 2 * channels + 2 * squeezed }
}

/// Forward of one batch. w1 (R, C), b1 (R), w2 (C, R), b2 (C); `saved` (N, savedCount).
public func squeezeExciteForward(y: UnsafeMutablePointer<Float>, saved: UnsafeMutablePointer<Float>,
                                 x: UnsafePointer<Float>, w1: UnsafePointer<Float>, b1: UnsafePointer<Float>,
                                 w2: UnsafePointer<Float>, b2: UnsafePointer<Float>,
                                 batch: Int, shape sh: SqueezeExciteShape) {
    let (c, r, hw) = (sh.channels, sh.squeezed, sh.spatial)
    for n in 0..<batch {
        let xs = x + n * c * hw, ys = y + n * c * hw
        let s = saved + n * sh.savedCount, z = s + c, a = z + r, g = a + r
        for ch in 0..<c { s[ch] = vectorSum(xs + ch * hw, hw) / Float(hw) }
        for j in 0..<r {
            var sum = b1[j]
            for ch in 0..<c { sum += w1[j * c + ch] * s[ch] }
            z[j] = sum
            a[j] = sh.silu ? sum * logistic(sum) : max(sum, 0)
        }
        for ch in 0..<c {
            var sum = b2[ch]
            for j in 0..<r { sum += w2[ch * r + j] * a[j] }
            g[ch] = logistic(sum)
        }
        for ch in 0..<c { loom_scale(ys + ch * hw, xs + ch * hw, g[ch], hw) }
    }
}

/// Backward, from the vectors the forward pass saved:
///   dg[c] = Σ_hw dy·x,  du = dg·g·(1 − g) (u = W2·a + b2),  dW2 += du ⊗ a,  db2 += du,
///   da = W2ᵀ·du,  dz = da·act′(z),  dW1 += dz ⊗ s,  db1 += dz,  ds = W1ᵀ·dz,
///   dx = dy·g[c] + ds[c]/HW (overwritten, when given).
/// `scratch` holds C + R floats.
public func squeezeExciteBackward(dx: UnsafeMutablePointer<Float>?, dw1: UnsafeMutablePointer<Float>,
                                  db1: UnsafeMutablePointer<Float>, dw2: UnsafeMutablePointer<Float>,
                                  db2: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                  x: UnsafePointer<Float>, saved: UnsafePointer<Float>,
                                  w1: UnsafePointer<Float>, w2: UnsafePointer<Float>,
                                  scratch: UnsafeMutablePointer<Float>, batch: Int, shape sh: SqueezeExciteShape) {
    let (c, r, hw) = (sh.channels, sh.squeezed, sh.spatial)
    let du = scratch, dz = scratch + c
    for n in 0..<batch {
        let xs = x + n * c * hw, dys = dy + n * c * hw
        let s = saved + n * sh.savedCount, z = s + c, a = z + r, g = a + r
        for ch in 0..<c {
            let dg = loom_dot(dys + ch * hw, xs + ch * hw, hw)
            du[ch] = dg * (g[ch] * (1 - g[ch]))
            db2[ch] += du[ch]
            for j in 0..<r { dw2[ch * r + j] += du[ch] * a[j] }
        }
        for j in 0..<r {
            var da: Float = 0
            for ch in 0..<c { da += w2[ch * r + j] * du[ch] }
            let zj = z[j]
            let slope: Float
            if sh.silu {
                let sg = logistic(zj)
                slope = sg * (1 + zj * (1 - sg))
            } else {
                slope = zj > 0 ? 1 : 0
            }
            dz[j] = da * slope
            db1[j] += dz[j]
            for ch in 0..<c { dw1[j * c + ch] += dz[j] * s[ch] }
        }
        guard let dx else { continue }
        let dxs = dx + n * c * hw
        for ch in 0..<c {
            var ds: Float = 0
            for j in 0..<r { ds += w1[j * c + ch] * dz[j] }
            loom_affine(dxs + ch * hw, dys + ch * hw, g[ch], ds / Float(hw), hw)
        }
    }
}
