/// A dense n-dimensional array read from or written to HDF5, row-major (C order) like
/// HDF5 and PyTorch: element `[i, j]` of a `(R, C)` array is `values[i * C + j]`.
public struct HDF5Array<T> {
    /// Extent of each dimension; `[]` for a scalar (then `values` has one element).
    public var shape: [Int]
    /// The elements in row-major order; `values.count == shape.reduce(1, *)`.
    public var values: [T]

    public init(shape: [Int], values: [T]) {
        self.shape = shape
        self.values = values
    }

    /// Number of elements, the product of `shape` (1 for a scalar).
    public var count: Int { values.count }
}

extension HDF5Array: Equatable where T: Equatable {}
extension HDF5Array: Sendable where T: Sendable {}
