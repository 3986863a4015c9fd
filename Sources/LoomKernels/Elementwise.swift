// Shape-preserving kernels: ReLU, residual add, flatten. All work on `count` floats; the
// layout does not matter. In-place use (y == x, dx == dy) is allowed.
import CKernels

/// y = max(x, 0) (NaN stays NaN), at the host's width (CKernels).
public func reluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
    loom_relu(y, x, count)
}

/// dx = dy where the forward output y > 0 (equivalently x > 0), else 0 (overwritten), at the
/// host's width (CKernels).
public func reluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                         y: UnsafePointer<Float>, count: Int) {
    loom_relu_backward(dx, dy, y, count)
}

/// Residual connection: y = x + body, where body = block(x) (CKernels, at the host's width).
public func residualAddForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               body: UnsafePointer<Float>, count: Int) {
    loom_add_into(y, x, body, count)
}

/// Backward of y = x + block(x): dx = dy (identity path) + dblockInput (the gradient the
/// block's backward pass produced for x). Overwrites dx; dx may alias dblockInput.
public func residualAddBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                dblockInput: UnsafePointer<Float>, count: Int) {
    loom_add_into(dx, dy, dblockInput, count)
}

/// Flatten (N, C, H, W) → (N, C·H·W): NCHW is already contiguous per sample, so this is a
/// copy (the model aliases the buffer instead and calls nothing).
public func flattenForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
    if UnsafePointer(y) != x { y.update(from: x, count: count) }
}

/// Backward of flatten: dx = dy reshaped, i.e. a copy.
public func flattenBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, count: Int) {
    if UnsafePointer(dx) != dy { dx.update(from: dy, count: count) }
}

/// Adam (`decoupled` false: L2 weight decay added to the gradient) or AdamW (`decoupled`:
/// the weights shrink by `decay` = 1 − lr·weightDecay first) over `count` weights, in
/// PyTorch's order, at the host's width (CKernels): m += (1−β1)(g − m),
/// v = β2·v + (1−β2)·g·g, w −= stepSize · m / (√v / bias2Sqrt + eps).
public func adamStep(weights w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                     mean m: UnsafeMutablePointer<Float>, square v: UnsafeMutablePointer<Float>, count: Int,
                     decay: Float, weightDecay: Float, oneMinusBeta1: Float, beta2: Float, oneMinusBeta2: Float,
                     bias2Sqrt: Float, eps: Float, stepSize: Float, decoupled: Bool, l2: Bool) {
    var a = loom_adam_parameters(decay: decay, weight_decay: weightDecay, one_minus_beta1: oneMinusBeta1, beta2: beta2,
                                 one_minus_beta2: oneMinusBeta2, bias2_sqrt: bias2Sqrt, eps: eps, step_size: stepSize,
                                 decoupled: decoupled ? 1 : 0, l2: l2 ? 1 : 0)
    loom_adam(w, g, m, v, count, &a)
}

/// Momentum SGD after its first step, without Nesterov, over `count` weights (PyTorch's
/// order): d = g + weightDecay·w, b = momentum·b + keep·d, w = w − lr·b, at the host's width
/// (CKernels), element by element with no fused multiply-add.
public func sgdMomentumStep(weights w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                            momentumBuffer b: UnsafeMutablePointer<Float>, count: Int,
                            lr: Float, weightDecay: Float, momentum: Float, keep: Float) {
    loom_sgd_momentum(w, g, b, count, lr, weightDecay, momentum, keep)
}
