// Where one compiled operation's parameters lie in the flat layout, and what its forward
// pass costs: what overlap needs to know of the layers (docs/CLUSTER.md, "Overlap"). The
// backward pass reports each operation's range as soon as its gradients are final, and the
// compute stand-in of `loom worker --stand-in-ms` spreads a micro-shard's time over the
// layers by their FLOPs (docs/SCALING.md, "The compute stand-in").

/// One operation's parameters (a range of the parameters layout, possibly empty) and its
/// forward FLOPs per sample (multiply-add = 2; 0 for layers without convolutions or
/// matrix products).
public struct LayerSpan: Equatable, Sendable {
    public var parameters: Range<Int>
    public var flops: Int

    public init(parameters: Range<Int>, flops: Int) {
        self.parameters = parameters
        self.flops = flops
    }

    /// Two adjacent operations' spans as one (a fused operation).
    func joined(_ other: LayerSpan) -> LayerSpan {
        let range: Range<Int>
        if parameters.isEmpty { range = other.parameters }
        else if other.parameters.isEmpty { range = parameters }
        else { range = min(parameters.lowerBound, other.parameters.lowerBound)..<max(parameters.upperBound, other.parameters.upperBound) }
        return LayerSpan(parameters: range, flops: flops + other.flops)
    }
}

extension Model {
    /// The operations of a backward pass in the order it runs them (each head's last layer
    /// first, then the trunk from its last layer to its first): the order in which
    /// `backward(…, completed:)` reports parameter ranges.
    public var backwardSpans: [LayerSpan] {
        headSpans.flatMap { $0.reversed() } + trunkSpans.reversed()
    }
}
