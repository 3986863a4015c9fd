// Class weights for imbalanced softmax heads, resolved once from the training labels.
//
//   inverse_frequency:  w_c = N / (K n_c)                 (scikit-learn's "balanced")
//   effective_number:   w_c = (1 - beta) / (1 - beta^n_c)  (Cui et al. 2019), then scaled
//                       so that mean_c w_c = 1
// N = labelled training rows, K = classes, n_c = rows of class c. A class with no training
// row is counted as if it had one, so its weight stays finite (it only matters for the
// validation loss, which never trains on it).

import LoomConfig

/// Class weights that cannot be resolved.
public struct ClassWeightsError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "class weights: \(message)" }
}

public enum ClassWeights {
    /// Per-class weights (K) for `method`, or nil for `.none`.
    /// - labels: training labels (N), -1 = not labelled (ignored); other values must be < K.
    public static func compute(labels: [Int32], classes k: Int,
                               method: LossConfig.ClassWeights) throws(ClassWeightsError) -> [Double]? {
        guard k >= 1 else { throw ClassWeightsError("need at least 1 class, got \(k)") }
        switch method {
        case .none:
            return nil
        case let .given(w):
            guard w.count == k else { throw ClassWeightsError("\(w.count) weights given for \(k) classes") }
            guard w.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw ClassWeightsError("given weights must be finite and >= 0: \(w)")
            }
            return w
        case .inverseFrequency:
            let n = try histogram(labels, k)
            let total = Double(n.reduce(0, +))
            return n.map { total / (Double(k) * Double(max($0, 1))) }
        case let .effectiveNumber(beta):
            guard beta >= 0 && beta < 1 else {
                throw ClassWeightsError("effective_number beta must be in [0, 1), got \(beta)")
            }
            let n = try histogram(labels, k)
            let raw = n.map { (1 - beta) / (1 - pow(beta, max($0, 1))) }
            let mean = raw.reduce(0, +) / Double(k)
            return raw.map { $0 / mean }
        }
    }

    /// Rows per class (K); -1 skipped, anything else outside 0..<K is an error.
    public static func histogram(_ labels: [Int32], _ k: Int) throws(ClassWeightsError) -> [Int] {
        var n = [Int](repeating: 0, count: k)
        for (i, y) in labels.enumerated() where y != -1 {
            guard y >= 0 && Int(y) < k else {
                throw ClassWeightsError("label \(y) at row \(i) is outside 0..<\(k)")
            }
            n[Int(y)] += 1
        }
        return n
    }

    /// beta^n for integer n >= 1 in Double.
    private static func pow(_ beta: Double, _ n: Int) -> Double {
        var r = 1.0, b = beta, e = n
        while e > 0 { if e & 1 == 1 { r *= b }; b *= b; e >>= 1 }
        return r
    }
}
