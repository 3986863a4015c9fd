// What the model being resumed or evaluated looks like, so a checkpoint of another
// model is refused with the name of the first tensor that does not fit.

/// The model tensors a checkpoint must hold: state_dict names and shapes, in state_dict order.
public struct CheckpointExpectation: Equatable, Sendable {
    public struct Tensor: Equatable, Sendable {
        public var name: String
        public var shape: [Int]
        public init(name: String, shape: [Int]) { self.name = name; self.shape = shape }
    }

    public var tensors: [Tensor]

    public init(tensors: [Tensor]) { self.tensors = tensors }

    /// From `(name, shape)` pairs, e.g. `[("c1.weight", [32, 1, 3, 3]), ("c1.bias", [32])]`.
    public init(_ pairs: [(String, [Int])]) {
        tensors = pairs.map { Tensor(name: $0.0, shape: $0.1) }
    }

    /// The first disagreement between `model` and this expectation, in expectation order:
    /// a missing tensor or a wrong shape; then a tensor the expectation does not list.
    func firstMismatch(in model: [NamedTensor]) -> CheckpointError.Reason? {
        let byName = Dictionary(model.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for t in tensors {
            guard let found = byName[t.name] else { return .missingTensor(tensor: t.name) }
            if found.shape != t.shape {
                return .shapeMismatch(tensor: t.name, found: found.shape, expected: t.shape)
            }
        }
        let expected = Set(tensors.map(\.name))
        if let extra = model.first(where: { !expected.contains($0.name) }) {
            return .unexpectedTensor(tensor: extra.name)
        }
        return nil
    }
}
