// Per-tensor summary numbers for `loom inspect`.

/// Summary of one stored tensor. Statistics cover the finite elements; `nonFinite`
/// counts the others (a checkpoint read for inspection may be poisoned).
public struct TensorStatistics: Equatable, Sendable {
    /// state_dict name (`"c1.weight"`) or `optimizer/<slot>` for a flat optimizer slot.
    public var name: String
    /// Path inside the HDF5 file (`model/c1/weight`).
    public var path: String
    public var shape: [Int]
    /// Element type as stored: `float32`, or `int64` for `num_batches_tracked`.
    public var dtype: String
    public var count: Int
    public var min: Double
    public var max: Double
    public var mean: Double
    /// Euclidean norm `sqrt(sum x^2)`.
    public var l2Norm: Double
    public var nonFinite: Int

    public init(name: String, path: String, shape: [Int], dtype: String, values: [Double]) {
        self.name = name; self.path = path; self.shape = shape; self.dtype = dtype
        count = values.count
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0, squares = 0.0, finite = 0
        for v in values where v.isFinite {
            lo = Swift.min(lo, v); hi = Swift.max(hi, v)
            sum += v; squares += v * v; finite += 1
        }
        nonFinite = values.count - finite
        min = finite > 0 ? lo : .nan
        max = finite > 0 ? hi : .nan
        mean = finite > 0 ? sum / Double(finite) : .nan
        l2Norm = squares.squareRoot()
    }
}
