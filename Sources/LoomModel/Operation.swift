// The compiled network: a list of operations on numbered activation slots. Slot 0 holds
// the input; each operation reads its input slot and writes its output slot (per sample
// `slotSizes[s]` floats, times the batch). Offsets (`weight`, `bias`, `runningMean`...)
// index the flat parameter/buffer arrays.
//
// Each layer kind lives in one file of Layers/: its operation, how a `LayerConfig` compiles
// to it (`compile`, shapes checked, parameters laid out), and its forward and backward
// passes. Adding a layer is that file, a `LayerConfig.Kind` case (with its options in
// ModelSection) and one line in `NetworkBuilder.compile`.
import LoomConfig
import LoomKernels

/// One operation of a compiled network.
protocol Operation {
    /// Runs on the `pass.n` samples of its input slot, writing its output slot.
    func forward(_ pass: ForwardPass)
    /// Reads the gradient of its output slot, writes (overwrites) that of its input slot when
    /// it needs one, and adds its parameters' gradients.
    func backward(_ pass: BackwardPass)
    /// The batch norms inside this operation (their running statistics are updated after a
    /// step; see `Model.applyBatchStatistics`).
    var batchNorms: [BatchNormOperation] { get }
}

extension Operation {
    var batchNorms: [BatchNormOperation] { [] }
}

/// What a layer compiles from: its config, where its input is, and how it may use it.
struct LayerInput {
    let layer: LayerConfig
    /// The layer's index among all layers (keys its initialisation and dropout streams).
    let index: Int
    let label: String
    let slot: Int
    let shape: ActivationShape
    let isHead: Bool
    /// False when the input is the network's input (slot 0): no gradient is needed there.
    let needsGradient: Bool
    /// Whether the layer may write its output over its input slot.
    let mayRunInPlace: Bool

    func fail(_ reason: String) -> ModelError {
        .invalidLayer(layer: label, line: layer.line, reason: reason)
    }

    /// A layer with parameters needs a name: its state_dict prefix.
    func requireName() throws(ModelError) {
        if layer.name.isEmpty { throw fail("a layer with parameters needs a name (its state_dict prefix)") }
    }
}

/// What a layer compiled to: its operation (nil for a layer that only reshapes) and the
/// slot and shape of its output.
struct LayerOutput {
    var operation: (any Operation)?
    var slot: Int
    var shape: ActivationShape
}

/// Replaces each run batch norm (2-D) → max pool (kernel 2, stride 2, no padding) → ReLU
/// on consecutive slots by one fused operation: same numbers, a quarter of the memory
/// traffic (the normalised tensor is never stored). The builder has already put max pool
/// before ReLU. Likewise batch norm → ReLU, and a residual block → ReLU, when the ReLU runs
/// in place (nothing else can read the tensor it overwrites): one operation each, the same
/// bits, one pass over memory less each way. Residual bodies are fused when they are built.
func fusingConvolutionTails(_ operations: [any Operation]) -> [any Operation] {
    fusingConvolutionTails(operations, spans: operations.map { _ in LayerSpan(parameters: 0..<0, flops: 0) }).operations
}

/// The same, keeping `spans` (one per operation) beside the operations: a fused operation's
/// span is its parts' together.
func fusingConvolutionTails(_ operations: [any Operation], spans: [LayerSpan])
    -> (operations: [any Operation], spans: [LayerSpan]) {
    var result: [any Operation] = []
    var resultSpans: [LayerSpan] = []
    var i = 0
    while i < operations.count {
        if i + 2 < operations.count,
           let norm = operations[i] as? BatchNormOperation, norm.spatial > 1,
           let pool = operations[i + 1] as? MaxPoolOperation, pool.input == norm.output,
           pool.shape.kernel == 2, pool.shape.stride == 2, pool.shape.padding == 0,
           pool.shape.height * pool.shape.width == norm.spatial, pool.shape.channels == norm.channels,
           let relu = operations[i + 2] as? ReLUOperation, relu.input == pool.output {
            var fromConvolution = false
            if var conv = result.last as? ConvOperation, conv.output == norm.input {
                conv.feedsNormalisation = true
                result[result.count - 1] = conv
                fromConvolution = true
            }
            result.append(BatchNormPoolReLUOperation(
                norm: norm, height: pool.shape.height, width: pool.shape.width, argmax: pool.argmax,
                output: relu.output, momentsFromConvolution: fromConvolution))
            resultSpans.append(spans[i].joined(spans[i + 1]).joined(spans[i + 2]))
            i += 3
        } else if i + 1 < operations.count, let norm = operations[i] as? BatchNormOperation,
                  let relu = operations[i + 1] as? ReLUOperation, relu.input == norm.output, relu.output == norm.output {
            // Batch norm → ReLU in place: one pass each way (BatchNormReLUOperation).
            result.append(BatchNormReLUOperation(norm: norm))
            resultSpans.append(spans[i].joined(spans[i + 1]))
            i += 2
        } else if i + 1 < operations.count, var residual = operations[i] as? ResidualOperation, !residual.rectified,
                  let relu = operations[i + 1] as? ReLUOperation, relu.input == residual.output,
                  relu.output == residual.output {
            // A residual block's sum → ReLU in place: the ReLU inside the sum's passes.
            residual.rectified = true
            result.append(residual)
            resultSpans.append(spans[i].joined(spans[i + 1]))
            i += 2
        } else {
            result.append(operations[i])
            resultSpans.append(spans[i])
            i += 1
        }
    }
    return (result, resultSpans)
}
