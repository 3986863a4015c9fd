// Why a model cannot be built from its config, or why a pass cannot run.

import LoomConfig

/// A model config that describes an impossible network, or a misuse of a pass.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// `model.input` is not a positive [C, H, W].
    case invalidInput(shape: [Int])
    /// A layer that cannot be built where it stands; `layer` is its name or `#index kind`.
    case invalidLayer(layer: String, line: Int, reason: String)
    /// Two layers (trunk or head) share a state_dict name.
    case duplicateName(name: String, line: Int, firstLine: Int)
    /// A head that cannot be built.
    case invalidHead(head: String, line: Int, reason: String)
    /// A pass was asked for more samples than the workspace holds.
    case batchTooLarge(count: Int, capacity: Int)
    /// Training with dropout needs one sample ID per sample.
    case sampleIDCount(expected: Int, got: Int)
    /// The workspace was made by another model.
    case foreignWorkspace
    /// `backward` was called without a preceding `forward` on this workspace.
    case backwardBeforeForward
    /// The model (or its workspace) would pass one of `ModelLimits`: `what` says which
    /// layer or total, `amount` how much it would be.
    case tooLarge(what: String, amount: String, limit: Int)

    public var description: String {
        switch self {
        case let .invalidInput(shape):
            return "model.input \(shape) is not a positive [C, H, W] shape with each side ≤ \(ConfigLimits.inputSide)"
        case let .invalidLayer(layer, line, reason):
            return "model layer \(layer) (line \(line)): \(reason)"
        case let .duplicateName(name, line, firstLine):
            return "layer name '\(name)' (line \(line)) is already used by the layer on line \(firstLine)"
        case let .invalidHead(head, line, reason):
            return "head \(head) (line \(line)): \(reason)"
        case let .batchTooLarge(count, capacity):
            return "batch of \(count) samples exceeds the workspace capacity of \(capacity)"
        case let .sampleIDCount(expected, got):
            return "dropout needs one sample ID per sample: expected \(expected), got \(got)"
        case .foreignWorkspace:
            return "the workspace was made by a different model"
        case .backwardBeforeForward:
            return "backward called before forward on this workspace"
        case let .tooLarge(what, amount, limit):
            return "model too large: \(what) \(amount), over the limit of \(limit) (docs/CONFIG.md, Limits)"
        }
    }
}
