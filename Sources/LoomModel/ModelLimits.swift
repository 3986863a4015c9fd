// How big a model may be, checked while it is built (before anything is allocated) with
// arithmetic that cannot overflow. A config's single numbers are bounded by LoomConfig's
// `ConfigLimits`; these limits bound what they multiply to. Every way a model is made —
// a config file or `--set`, a coordinator's welcome, a checkpoint, `loom import-weights` —
// goes through `Model.init`, so none of them can ask for a terabyte or wrap a count
// around to a negative number. docs/CONFIG.md, "Limits", lists them.

import LoomConfig
import LoomKernels

/// The largest model Loom builds.
public enum ModelLimits {
    /// Trainable parameters plus batch-norm buffers: 2^28 floats (1 GiB per copy; a run
    /// keeps several copies: weights, gradients, optimizer slots, the wire's).
    public static let parameters = 1 << 28
    /// Floats of one sample's activation in any one slot, and of the network's input: 2^28.
    public static let activationsPerSample = 1 << 28
    /// Bytes of the workspace of one pass over a micro-batch (activations, their gradients,
    /// conv scratch, pooling indices, dropout masks): 16 GiB.
    public static let workspaceBytes = 1 << 34
    /// Forward FLOPs of one sample: 2^60.
    public static let flopsPerSample = 1 << 60
    /// Layers, counting those inside residual blocks, concat branches and heads.
    public static let layers = 10_000
}

/// `a · b · ...`, nil when the product overflows `Int`.
func checkedProduct(_ factors: Int...) -> Int? {
    var product = 1
    for factor in factors {
        let (value, overflow) = product.multipliedReportingOverflow(by: factor)
        if overflow { return nil }
        product = value
    }
    return product
}

/// `a + b + ...`, nil when the sum overflows `Int`.
func checkedSum(_ terms: Int...) -> Int? {
    var sum = 0
    for term in terms {
        let (value, overflow) = sum.addingReportingOverflow(term)
        if overflow { return nil }
        sum = value
    }
    return sum
}

extension NetworkBuilder {
    /// What `layer` would add, bounded from above with checked arithmetic, before it is
    /// compiled: its parameters and its output's size per sample. Throws `.tooLarge` when
    /// either would pass `ModelLimits` (an overflow counts as passing it).
    func checkBounds(_ l: LayerInput) throws(ModelError) {
        let layer = l.layer
        let overflowed = Int.max  // stands for a count past Int: always over the limit
        var parameters = 0
        var output = l.shape.count
        var flops = 0
        if case let .spatial(c, h, w) = l.shape {
            // Clamped so that this bound's own arithmetic cannot overflow (a config holds
            // windows ≤ 2^12; a `ModelConfig` made in code could hold anything).
            let k = min(max(layer.kernel, 1), 1 << 30), p = min(max(layer.padding, 0), 1 << 30)
            let s = min(max(layer.stride, 1), 1 << 30)
            // Output side ≤ (h + 2p − k)/s + 1 ≤ h + 2p: enough for a bound.
            let outH = (max(h + 2 * p - k, 0)) / s + 1, outW = (max(w + 2 * p - k, 0)) / s + 1
            switch layer.kind {
            case .conv2d:
                parameters = checkedProduct(layer.out, c, k, k).flatMap { checkedSum($0, layer.out) } ?? overflowed
                output = checkedProduct(layer.out, outH, outW) ?? overflowed
                flops = checkedProduct(2, parameters, outH, outW) ?? overflowed
            case .depthwise2d:
                parameters = checkedProduct(c, k, k).flatMap { checkedSum($0, c) } ?? overflowed
                output = checkedProduct(c, outH, outW) ?? overflowed
                flops = checkedProduct(2, parameters, outH, outW) ?? overflowed
            case .squeeze_excite:
                parameters = checkedProduct(2, layer.squeeze, c).flatMap { checkedSum($0, layer.squeeze, c) } ?? overflowed
            case .maxpool2d, .avgpool2d:
                output = checkedProduct(c, outH, outW) ?? overflowed
            case .batchnorm2d:
                parameters = 4 * c
            default:
                break
            }
        } else if case let .flat(f) = l.shape {
            switch layer.kind {
            case .linear:
                parameters = checkedProduct(layer.out, f).flatMap { checkedSum($0, layer.out) } ?? overflowed
                output = layer.out
                flops = checkedProduct(2, parameters) ?? overflowed
            case .batchnorm1d:
                parameters = 4 * f
            default:
                break
            }
        }
        let total = checkedSum(self.parameters.count, buffers.count, parameters) ?? overflowed
        if total > ModelLimits.parameters {
            throw .tooLarge(what: "layer \(l.label) (line \(l.layer.line)) brings the parameters and buffers to",
                            amount: total == overflowed ? "more than 2^63" : "\(total)", limit: ModelLimits.parameters)
        }
        if output > ModelLimits.activationsPerSample {
            throw .tooLarge(what: "layer \(l.label) (line \(l.layer.line)) makes an activation of",
                            amount: output == overflowed ? "more than 2^63 floats" : "\(output) floats per sample",
                            limit: ModelLimits.activationsPerSample)
        }
        let totalFLOPs = checkedSum(self.flops, flops) ?? overflowed
        if totalFLOPs > ModelLimits.flopsPerSample {
            throw .tooLarge(what: "layer \(l.label) (line \(l.layer.line)) brings the forward FLOPs per sample to",
                            amount: totalFLOPs == overflowed ? "more than 2^63" : "\(totalFLOPs)", limit: ModelLimits.flopsPerSample)
        }
    }
}

extension Model {
    /// Bytes a workspace for passes of `batch` samples allocates (`Workspace.init`), nil
    /// when that overflows `Int`. Every term is bounded by the model's limits, so only a
    /// huge batch makes it overflow.
    public func workspaceBytes(batch: Int) -> Int? {
        let capacity = max(batch, 1)
        var slots = 0
        for size in slotSizes {
            guard let sum = checkedSum(slots, size) else { return nil }
            slots = sum
        }
        let scratch = convShapes.map { $0.scratchCount(imagesPerGEMM: $0.imagesPerGEMM(batch: capacity)) }.max() ?? 0
        let maxOut = convShapes.map(\.outChannels).max() ?? 0
        guard let arena = checkedProduct(2, slots, capacity),
              let argmax = checkedProduct(argmaxCount, capacity),
              let masks = checkedProduct(maskCount, capacity),
              let moments = checkedProduct(2, capacity, maxOut),
              let floats = checkedSum(arena, scratch, argmax, masks, moments, 4 * buffers.count) else { return nil }
        return checkedProduct(4, floats)
    }

    /// Throws `.tooLarge` when a workspace for `batch` samples would pass
    /// `ModelLimits.workspaceBytes`: checked before a `ShardComputer` allocates it.
    public func checkWorkspace(batch: Int) throws(ModelError) {
        let bytes = workspaceBytes(batch: batch)
        guard let bytes, bytes <= ModelLimits.workspaceBytes else {
            throw .tooLarge(what: "the workspace for a micro-batch of \(batch) samples takes",
                            amount: bytes.map { "\($0) bytes" } ?? "more than 2^63 bytes", limit: ModelLimits.workspaceBytes)
        }
    }
}
