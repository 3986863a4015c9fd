// Softmax cross-entropy against PyTorch (layers.h5 /losses/softmax_ce_mean) and its label rules.
import LoomHDF5
import LoomKernels
import LoomTestSupport
import Testing

@Test func softmaxCrossEntropyMatchesPyTorchMeanLoss() throws {
    let group = try Fixtures.open("layers.h5").root.group("losses/softmax_ce_mean")
    let logits = try group.read(Float.self, "logits")
    let labels = try group.read(Int64.self, "target").values.map { Int32($0) }
    let (n, k) = (logits.shape[0], logits.shape[1])
    var dlogits = [Float](repeating: 0, count: n * k)
    let sum = try softmaxCrossEntropy(dlogits: &dlogits, logits: logits.values, labels: labels, batch: n, classes: k)
    #expect(sum.labelled == n)
    assertClose([Float(sum.loss / Double(n))], try group.read(Float.self, "loss").values, "mean loss")
    // The kernel writes the gradient of the SUM; PyTorch's is of the mean.
    assertClose(dlogits.map { $0 / Float(n) }, try group.read(Float.self, "dlogits").values, "dlogits")
}

@Test func unlabelledRowsAddNoLossAndNoGradient() throws {
    var dlogits = [Float](repeating: 9, count: 6)
    let sum = try softmaxCrossEntropy(dlogits: &dlogits, logits: [1, 2, 3, 0, 5, 1], labels: [-1, 1], batch: 2, classes: 3)
    #expect(sum.labelled == 1)
    #expect(dlogits[0..<3].allSatisfy { $0 == 0 })
    #expect(sum.correct == 1)
}

@Test func outOfRangeLabelIsAnErrorNamingTheRow() {
    var dlogits = [Float](repeating: 0, count: 6)
    #expect(throws: KernelError.labelOutOfRange(row: 1, label: 3, classes: 3)) {
        _ = try softmaxCrossEntropy(dlogits: &dlogits, logits: [1, 2, 3, 0, 5, 1], labels: [0, 3], batch: 2, classes: 3)
    }
}
