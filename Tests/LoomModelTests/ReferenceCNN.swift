// The reference CNN of reference_cnn.h5 and helpers to move its named tensors in and out
// of Loom's flat parameter and buffer arrays.
import LoomConfig
import LoomHDF5
import LoomKernels
import LoomModel
import LoomTraining
import LoomTestSupport

func layer(_ kind: LayerConfig.Kind, _ name: String = "", out: Int = 0, kernel: Int = 3, stride: Int = 1,
           padding: Int = 0, line: Int = 0) -> LayerConfig {
    var l = LayerConfig(kind: kind, name: name)
    l.out = out
    l.kernel = kernel
    l.stride = stride
    l.padding = padding
    l.line = line
    return l
}

/// conv3x3(1→32, pad 1) BN ReLU maxpool2 conv3x3(32→64, pad 1) BN ReLU maxpool2 flatten
/// linear(3136→128) ReLU, and a softmax head `category` whose output layer is `f2` (10 classes).
func referenceConfig() -> (model: ModelConfig, heads: [HeadConfig]) {
    var model = ModelConfig()
    model.input = [1, 28, 28]
    model.layers = [
        layer(.conv2d, "c1", out: 32, padding: 1, line: 3), layer(.batchnorm2d, "b1", line: 4), layer(.relu, line: 5),
        layer(.maxpool2d, kernel: 2, stride: 2, line: 6),
        layer(.conv2d, "c2", out: 64, padding: 1, line: 7), layer(.batchnorm2d, "b2", line: 8), layer(.relu, line: 9),
        layer(.maxpool2d, kernel: 2, stride: 2, line: 10),
        layer(.flatten, line: 11), layer(.linear, "f1", out: 128, line: 12), layer(.relu, line: 13),
    ]
    return (model, [HeadConfig(name: "category", kind: .softmax, classes: 10, layer: "f2")])
}

func referenceModel() throws -> Model {
    let config = referenceConfig()
    return try Model(model: config.model, heads: config.heads)
}

/// Reads every view of `layout` from `group/<name>` into one flat array.
func readFlat(_ layout: ParameterLayout, from group: HDF5Group) throws -> [Float] {
    var flat = [Float](repeating: 0, count: layout.count)
    for view in layout.views {
        let values = try group.read(Float.self, view.name).values
        flat.replaceSubrange(view.range, with: values)
    }
    return flat
}

/// Flat views of one array, by name.
func slice(_ flat: [Float], _ layout: ParameterLayout, _ name: String) -> [Float] {
    Array(flat[layout.view(named: name)!.range])
}

/// The reference batch: x (32, 1, 28, 28) and labels (32).
func referenceBatch() throws -> (x: [Float], labels: [Int32]) {
    let root = try Fixtures.open("reference_cnn.h5").root
    return (try root.read(Float.self, "x").values, try root.read(Int64.self, "y").values.map { Int32($0) })
}

/// One training forward + mean softmax CE + backward; returns the mean loss and the
/// gradients of the mean loss (parameters layout).
func trainingPass(_ model: Model, _ workspace: Workspace, parameters: [Float], buffers: [Float],
                  x: [Float], labels: [Int32]) throws -> (loss: Double, logits: [Float], gradients: [Float]) {
    let n = labels.count
    var gradients = [Float](repeating: 0, count: model.parameters.count)
    try model.forward(parameters: parameters, buffers: buffers, input: x, count: n, training: true, workspace: workspace)
    let logits = Array(UnsafeBufferPointer(start: workspace.logits(head: 0), count: n * 10))
    let (sums, dlogits) = try HeadLoss(kind: .softmax, config: LossConfig(), classes: 10).evaluate(logits: logits, labels: labels)
    for i in 0..<(n * 10) { workspace.dlogits(head: 0)[i] = dlogits[i] / Float(n) }
    try model.backward(parameters: parameters, workspace: workspace, gradients: &gradients)
    return (sums.loss / Double(n), logits, gradients)
}
