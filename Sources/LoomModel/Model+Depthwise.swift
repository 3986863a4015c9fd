// The depthwise convolutions of a compiled model, for `loom bench` (their bytes/s against the
// host's memory bandwidth).
import LoomKernels

extension Model {
    /// The shape of every depthwise convolution of the trunk and the heads, in order
    /// (inside residual blocks and concatenated branches too).
    public var depthwiseShapes: [DepthwiseShape] {
        (trunk + headOperations.flatMap { $0 }).flatMap(Self.depthwiseShapes(of:))
    }

    private static func depthwiseShapes(of operation: any Operation) -> [DepthwiseShape] {
        switch operation {
        case let d as DepthwiseOperation: [d.shape]
        case let r as ResidualOperation: (r.body + r.shortcut).flatMap(depthwiseShapes(of:))
        case let c as ConcatOperation: c.branches.flatMap { $0.operations }.flatMap(depthwiseShapes(of:))
        default: []
        }
    }
}
