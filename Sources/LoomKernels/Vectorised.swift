// Explicit SIMD for the memory-bound loops. Float reductions do not auto-vectorise (the
// compiler may not reorder float additions), and compare-and-select loops compile to
// branches; SIMD8 lanes make both branch-free and 8-wide. Summation order is fixed by
// the lane layout, so results stay deterministic.
//
// The loops of the functions below that have a C twin run in CKernels at the host's width
// (SSE2, AVX2 or AVX-512, `KernelPath`), with the same bits on every path; the Swift
// kernels that still use `Lanes` directly are compiled for baseline x86-64.
import CKernels

typealias Lanes = SIMD8<Float>

@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>) -> Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

@inline(__always)
func storeLanes(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
}

/// Σ p[0..<n].
@inline(__always)
func vectorSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    loom_sum(p, n)
}

/// (Σ d, Σ d·(x − shift)) over n elements: the two reductions of the batch-norm backward pass.
@inline(__always)
func vectorSumAndCentredDot(_ d: UnsafePointer<Float>, _ x: UnsafePointer<Float>, shift: Float,
                            _ n: Int) -> (Float, Float) {
    var sum: Float = 0, dot: Float = 0
    loom_sum_and_centred_dot(d, x, shift, n, &sum, &dot)
    return (sum, dot)
}

/// Σ (p − shift)² over n elements.
@inline(__always)
func vectorCentredSquares(_ p: UnsafePointer<Float>, shift: Float, _ n: Int) -> Float {
    loom_centred_squares(p, shift, n)
}

/// q = p·scale + shift over n elements.
@inline(__always)
func vectorAffine(_ q: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, scale: Float, shift: Float, _ n: Int) {
    loom_affine(q, p, scale, shift, n)
}

/// q[0..<n] = p[0..<n] (no overlap).
@inline(__always)
func vectorCopy(_ q: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        storeLanes(loadLanes(p + i), q + i)
        storeLanes(loadLanes(p + i + 8), q + i + 8)
        i += 16
    }
    while i + 8 <= n {
        storeLanes(loadLanes(p + i), q + i)
        i += 8
    }
    while i < n {
        q[i] = p[i]
        i += 1
    }
}

/// q[0..<n] += p[0..<n] (no overlap).
@inline(__always)
func vectorAdd(_ q: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ n: Int) {
    loom_add(q, p, n)
}

/// (mean, Σ (p − mean)²) of p[0..<n] in one pass: sums of p − p[0] and of its square (the
/// shift keeps the square sum from cancelling when the mean is large against the spread).
@inline(__always)
func planeMoments(_ p: UnsafePointer<Float>, _ n: Int) -> (mean: Float, squares: Float) {
    guard n > 0 else { return (0, 0) }
    var s1: Float = 0, s2: Float = 0
    loom_shifted_moments(p, n, &s1, &s2)
    let m = s1 / Float(n)
    return (p[0] + m, max(s2 - s1 * m, 0))
}

/// The index of the first NaN or ±Inf in `values`, nil when all are finite. x · 0 is ±0 for
/// a finite x and NaN for NaN or ±Inf, so a sum of every x · 0 is 0 exactly when all are
/// finite: two float operations per value, 16 lanes at a time and branch-free (a maximum of
/// the exponent bits costs three times as much where the build has only SSE2's integer
/// comparisons). Only once it knows there is one does it look for the index. Messages of
/// weights and gradients (1.7 MB for the reference CNN) are checked on every hop.
public func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
    guard let base = values.baseAddress, loom_all_finite(base, values.count) == 0 else { return nil }
    return values.firstIndex { !$0.isFinite }
}

/// `firstNonFinite` over an array.
public func firstNonFinite(_ values: [Float]) -> Int? {
    values.withUnsafeBufferPointer { firstNonFinite($0) }
}

/// out[i] = a[i] + b[i] for i in 0..<n, left operand first (the reduction tree's order);
/// `out` may be `a` or `b` itself, not a shifted overlap. Returns whether every sum is
/// finite, found on the way as `firstNonFinite` finds it (a sum of every sum · 0): a sum is
/// not finite when an operand was not, or when it overflowed.
public func elementwiseSum(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                           into out: UnsafeMutablePointer<Float>, count n: Int) -> Bool {
    loom_sum_into(a, b, out, n) != 0
}
