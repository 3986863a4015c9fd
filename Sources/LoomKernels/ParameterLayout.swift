// All parameters of a model live in one flat [Float] buffer; a `ParameterLayout` is the
// table of named views into it, in PyTorch state_dict order and names. The optimizer,
// zero-grad, the checkpoint and the wire each see one array and use this table for names.

/// One named tensor inside a flat parameter (or buffer) array.
public struct ParameterView: Equatable, Sendable {
    /// PyTorch state_dict name, e.g. `c1.weight`.
    public var name: String
    /// PyTorch shape, e.g. [32, 1, 3, 3] for a conv weight [out, in, kh, kw].
    public var shape: [Int]
    /// First element in the flat array.
    public var offset: Int
    /// Number of elements (product of `shape`).
    public var count: Int
    /// A bias or a normalisation parameter: excluded from weight decay when the
    /// optimizer's `no_decay_on_bias_and_norm` option is on.
    public var isBiasOrNorm: Bool
    /// Belongs to a head (not the shared trunk): the trunk learning-rate scale does not apply.
    public var isHead: Bool

    public init(name: String, shape: [Int], offset: Int, isBiasOrNorm: Bool = false, isHead: Bool = false) {
        self.name = name
        self.shape = shape
        self.offset = offset
        self.count = shape.reduce(1, *)
        self.isBiasOrNorm = isBiasOrNorm
        self.isHead = isHead
    }

    /// The element range of this view in the flat array.
    public var range: Range<Int> { offset..<(offset + count) }
}

/// Named views packed back to back into one flat array of `count` floats.
public struct ParameterLayout: Equatable, Sendable {
    /// The views in state_dict order; offsets are increasing and contiguous.
    public private(set) var views: [ParameterView] = []
    /// Total number of floats.
    public private(set) var count: Int = 0
    private var indexByName: [String: Int] = [:]

    public init() {}

    /// Appends a view after the last one and returns it. Names must be unique; a repeated
    /// name returns nil and leaves the layout unchanged.
    @discardableResult
    public mutating func append(name: String, shape: [Int], isBiasOrNorm: Bool = false,
                                isHead: Bool = false) -> ParameterView? {
        guard indexByName[name] == nil else { return nil }
        let view = ParameterView(name: name, shape: shape, offset: count,
                                 isBiasOrNorm: isBiasOrNorm, isHead: isHead)
        indexByName[name] = views.count
        views.append(view)
        count += view.count
        return view
    }

    /// The view called `name` (a state_dict key), if any.
    public func view(named name: String) -> ParameterView? {
        indexByName[name].map { views[$0] }
    }

    /// The offset of the view called `name` in the flat array, if any.
    public func offset(of name: String) -> Int? {
        view(named: name)?.offset
    }

    /// The state_dict names, in order.
    public var names: [String] { views.map(\.name) }
}
