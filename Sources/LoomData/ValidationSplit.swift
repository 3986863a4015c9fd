// Holding out a validation set from the train split. The carve is a pure function of
// (count, fraction, seed), so the coordinator, every worker and a resumed run all agree
// on which samples are validation without storing the list.

import LoomKernels

/// Deterministic train/validation partition of a split's sample indices.
public enum ValidationSplit {
    /// Splits `0..<count` into two disjoint, sorted index lists.
    ///
    /// The validation set has `round(count * fraction)` samples chosen by a seeded shuffle
    /// (`KeyedRandom(seed:, purpose: .validationSplit)`); the rest is train. A fraction
    /// outside [0, 1] is clamped.
    public static func carve(count: Int, fraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        guard count > 0 else { return ([], []) }
        let f = fraction.isNaN ? 0 : min(1, max(0, fraction))
        let held = Int((Double(count) * f).rounded())
        var order = Array(0..<count)
        var rng = KeyedRandom(seed: seed, purpose: .validationSplit, keys: [UInt64(count)])
        rng.shuffle(&order)
        let validation = order[0..<held].sorted()
        let train = order[held...].sorted()
        return (train, validation)
    }
}
