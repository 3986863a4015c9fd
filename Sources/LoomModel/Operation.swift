// The compiled network: a list of operations on numbered activation slots. Slot 0 holds
// the input; each operation reads `input` and writes `output` (per sample `slotSizes[s]`
// floats, times the batch). ReLU runs in place (input == output) since no backward pass
// needs the tensor it overwrites; flatten emits nothing (the slot is reused as (N, F)).
// Offsets (`weight`, `bias`, `runningMean`...) index the flat parameter/buffer arrays.
import LoomKernels

struct ConvOperation {
    var shape: Conv2DShape
    var input: Int, output: Int
    var weight: Int, bias: Int?
    var inputNeedsGradient: Bool
}

struct LinearOperation {
    var inFeatures: Int, outFeatures: Int
    var input: Int, output: Int
    var weight: Int, bias: Int?
    var inputNeedsGradient: Bool
    /// Several heads read the trunk output: all but the first add their input gradient.
    var accumulatesInputGradient: Bool
}

struct BatchNormOperation {
    var channels: Int, spatial: Int
    var input: Int, output: Int
    var weight: Int, bias: Int
    var runningMean: Int, runningVar: Int
    var momentum: Float, eps: Float
    var inputNeedsGradient: Bool
}

struct ReLUOperation {
    var count: Int
    var input: Int, output: Int
    var inputNeedsGradient: Bool
}

struct PoolOperation {
    var shape: Pool2DShape
    var input: Int, output: Int
    /// Offset of this layer's argmax indices (per sample) in the workspace's Int32 arena.
    var argmax: Int
    var inputNeedsGradient: Bool
}

struct GlobalPoolOperation {
    var channels: Int, spatial: Int
    var input: Int, output: Int
    var inputNeedsGradient: Bool
}

struct DropoutOperation {
    var features: Int, p: Float
    /// The layer index that keys the masks.
    var layer: Int
    var input: Int, output: Int
    /// Offset of the masks (per sample) in the workspace's mask arena.
    var mask: Int
    var inputNeedsGradient: Bool
}

struct ResidualOperation {
    var body: [Operation]
    var count: Int
    var input: Int, bodyOutput: Int, output: Int
    var inputNeedsGradient: Bool
}

indirect enum Operation {
    case conv(ConvOperation)
    case linear(LinearOperation)
    case batchNorm(BatchNormOperation)
    case relu(ReLUOperation)
    case maxPool(PoolOperation)
    case avgPool(PoolOperation)
    case globalAvgPool(GlobalPoolOperation)
    case dropout(DropoutOperation)
    case residual(ResidualOperation)
}
