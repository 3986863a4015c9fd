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
    /// A fused batch-norm tail follows: in training, leave per-plane moments in the workspace.
    var feedsNormalisation = false
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

/// Batch norm → 2x2/2 max pool → ReLU fused (see `Operation.fusingConvolutionTails`): reads
/// `norm.input`, writes `output` (the ReLU's slot). The norm's own output slot, which the
/// fused kernel never fills with z, keeps the x value at each window's maximum (a quarter
/// of its size) for the backward pass; the pool's slot stays unused.
struct BatchNormPoolReLUOperation {
    var norm: BatchNormOperation
    /// Input height and width (the pooled output is (H/2, W/2)).
    var height: Int, width: Int
    var argmax: Int
    var output: Int
    /// The input comes from a conv that leaves per-plane moments in the workspace.
    var momentsFromConvolution = false
}

indirect enum Operation {
    case conv(ConvOperation)
    case linear(LinearOperation)
    case batchNorm(BatchNormOperation)
    case batchNormPoolReLU(BatchNormPoolReLUOperation)
    case relu(ReLUOperation)
    case maxPool(PoolOperation)
    case avgPool(PoolOperation)
    case globalAvgPool(GlobalPoolOperation)
    case dropout(DropoutOperation)
    case residual(ResidualOperation)
}

extension Operation {
    /// Replaces each run batch norm (2-D) → max pool (kernel 2, stride 2, no padding) → ReLU
    /// on consecutive slots by one fused operation: same numbers, a quarter of the memory
    /// traffic (the normalised tensor is never stored). The builder has already put max pool
    /// before ReLU. Residual bodies are fused when they are built.
    static func fusingConvolutionTails(_ operations: [Operation]) -> [Operation] {
        var result: [Operation] = []
        var i = 0
        while i < operations.count {
            if i + 2 < operations.count,
               case let .batchNorm(norm) = operations[i], norm.spatial > 1,
               case let .maxPool(pool) = operations[i + 1], pool.input == norm.output,
               pool.shape.kernel == 2, pool.shape.stride == 2, pool.shape.padding == 0,
               pool.shape.height * pool.shape.width == norm.spatial, pool.shape.channels == norm.channels,
               case let .relu(relu) = operations[i + 2], relu.input == pool.output {
                var fromConvolution = false
                if case var .conv(conv)? = result.last, conv.output == norm.input {
                    conv.feedsNormalisation = true
                    result[result.count - 1] = .conv(conv)
                    fromConvolution = true
                }
                result.append(.batchNormPoolReLU(BatchNormPoolReLUOperation(
                    norm: norm, height: pool.shape.height, width: pool.shape.width, argmax: pool.argmax,
                    output: relu.output, momentsFromConvolution: fromConvolution)))
                i += 3
            } else {
                result.append(operations[i])
                i += 1
            }
        }
        return result
    }
}
