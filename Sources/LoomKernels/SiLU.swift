// SiLU (swish) and the logistic sigmoid it is built on, element by element, in CKernels
// (`loom_silu`, `loom_logistic`): e^−|x| is Loom's own polynomial exponential (IEEE additions
// and multiplications only, relative error ≤ 1.3 units in the last place, σ ≤ 2.5), so every
// path of every CPU computes the same bits; the C library's exp is not used.
import CKernels

/// σ(x) = 1 / (1 + e^−x), without overflow: for x < 0 it is e^x / (1 + e^x).
@inline(__always)
public func logistic(_ x: Float) -> Float {
    loom_logistic(x)
}

/// y = x·σ(x) over `count` floats (y may not alias x: the backward pass reads x).
public func siluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
    loom_silu(y, x, count)
}

/// dx = dy·σ(x)·(1 + x·(1 − σ(x))), the derivative of x·σ(x); overwrites dx (may alias dy).
public func siluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                         count: Int) {
    loom_silu_backward(dx, dy, x, count)
}
