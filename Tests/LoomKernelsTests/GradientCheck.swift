// Central finite differences for kernels the fixtures do not cover. A kernel f: x → y is
// checked through the scalar L = Σ dy·f(x) (accumulated in Double) against the analytic dx.
import LoomKernels
import Testing

/// Deterministic test values in [-1, 1).
func testValues(_ count: Int, key: UInt64) -> [Float] {
    var random = KeyedRandom(seed: 42, purpose: .dataset, keys: [key])
    return (0..<count).map { _ in 2 * random.nextFloat() - 1 }
}

/// Numerical dL/dx_i for L(x) = Σ dy·f(x), by central differences with step `h`.
func numericalGradient(of f: ([Float]) -> [Float], at x: [Float], dy: [Float], h: Float = 1e-2) -> [Double] {
    func loss(_ v: [Float]) -> Double { zip(f(v), dy).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
    return (0..<x.count).map { i in
        var plus = x, minus = x
        plus[i] += h
        minus[i] -= h
        return (loss(plus) - loss(minus)) / (Double(plus[i]) - Double(minus[i]))
    }
}

/// Records an issue when analytic and numerical gradients differ beyond `tolerance`
/// (absolute, or relative to the larger magnitude).
func expectGradientsAgree(_ analytic: [Float], _ numerical: [Double], tolerance: Double = 2e-3,
                          _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(analytic.count == numerical.count, "\(what): sizes differ", sourceLocation: sourceLocation)
    let worst = zip(analytic, numerical).map { a, n in
        abs(Double(a) - n) / max(1, abs(n))
    }.max() ?? 0
    #expect(worst <= tolerance, "\(what): worst relative gradient error \(worst)", sourceLocation: sourceLocation)
}
