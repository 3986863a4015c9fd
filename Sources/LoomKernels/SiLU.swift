// SiLU (swish) and the logistic sigmoid it is built on, element by element. `exp` is the C
// library's single scalar routine on every path, so every host computes the same bits.
import Foundation

/// σ(x) = 1 / (1 + e^−x), without overflow: for x < 0 it is e^x / (1 + e^x).
@inline(__always)
public func logistic(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + expf(-x)) }
    let e = expf(x)
    return e / (1 + e)
}

/// y = x·σ(x) over `count` floats (y may not alias x: the backward pass reads x).
public func siluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = x[i] * logistic(x[i]) }
}

/// dx = dy·σ(x)·(1 + x·(1 − σ(x))), the derivative of x·σ(x); overwrites dx (may alias dy).
public func siluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                         count: Int) {
    for i in 0..<count {
        let s = logistic(x[i])
        dx[i] = dy[i] * (s * (1 + x[i] * (1 - s)))
    }
}
