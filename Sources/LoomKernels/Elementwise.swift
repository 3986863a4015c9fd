// Shape-preserving kernels: ReLU, residual add, flatten. All work on `count` floats; the
// layout does not matter. In-place use (y == x, dx == dy) is allowed.

/// y = max(x, 0).
public func reluForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let v = loadLanes(x + i)
        storeLanes(v.replacing(with: 0, where: v .<= 0), y + i)
        i += 8
    }
    while i < count {
        y[i] = x[i] > 0 ? x[i] : 0
        i += 1
    }
}

/// dx = dy where the forward output y > 0 (equivalently x > 0), else 0 (overwritten).
public func reluBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                         y: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let g = loadLanes(dy + i)
        storeLanes(g.replacing(with: 0, where: loadLanes(y + i) .<= 0), dx + i)
        i += 8
    }
    while i < count {
        dx[i] = y[i] > 0 ? dy[i] : 0
        i += 1
    }
}

/// Residual connection: y = x + body, where body = block(x).
public func residualAddForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               body: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = x[i] + body[i] }
}

/// Backward of y = x + block(x): dx = dy (identity path) + dblockInput (the gradient the
/// block's backward pass produced for x). Overwrites dx; dx may alias dblockInput.
public func residualAddBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                dblockInput: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { dx[i] = dy[i] + dblockInput[i] }
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
