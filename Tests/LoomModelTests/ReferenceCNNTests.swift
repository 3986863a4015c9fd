// The reference CNN against PyTorch: names, one training pass, five SGD steps.
import LoomHDF5
import LoomKernels
import LoomModel
import LoomTestSupport
import Testing

@Test func parameterNamesAndShapesMatchPyTorchStateDict() throws {
    let model = try referenceModel()
    let initial = try Fixtures.open("reference_cnn.h5").root.group("init")
    let expected = try initial.children().filter { !$0.hasSuffix("num_batches_tracked") }
    let ours = model.parameters.views + model.buffers.views
    #expect(Set(ours.map(\.name)) == Set(expected))
    #expect(model.parameters.names == ["c1.weight", "c1.bias", "b1.weight", "b1.bias", "c2.weight", "c2.bias",
                                       "b2.weight", "b2.bias", "f1.weight", "f1.bias", "f2.weight", "f2.bias"])
    for view in ours {
        #expect(try initial.shape(of: view.name) == view.shape, "\(view.name)")
    }
}

@Test func trainingPassMatchesPyTorchLogitsLossAndGradients() throws {
    BLAS.useSingleThread()
    let model = try referenceModel()
    let root = try Fixtures.open("reference_cnn.h5").root
    let parameters = try readFlat(model.parameters, from: root.group("init"))
    let buffers = try readFlat(model.buffers, from: root.group("init"))
    let batch = try referenceBatch()
    let workspace = model.makeWorkspace(maxBatch: 32)
    let pass = try trainingPass(model, workspace, parameters: parameters, buffers: buffers, x: batch.x, labels: batch.labels)
    assertClose(pass.logits, try root.read(Float.self, "logits").values, "logits")
    assertClose([Float(pass.loss)], try root.read(Float.self, "loss").values, "mean loss")
    let grads = try root.group("grad")
    for view in model.parameters.views {
        assertClose(slice(pass.gradients, model.parameters, view.name), try grads.read(Float.self, view.name).values,
                    "grad \(view.name)")
    }
}

@Test func fiveSGDStepsMatchPyTorch() throws {
    BLAS.useSingleThread()
    let model = try referenceModel()
    let root = try Fixtures.open("reference_cnn.h5").root
    var parameters = try readFlat(model.parameters, from: root.group("init"))
    var buffers = try readFlat(model.buffers, from: root.group("init"))
    let batch = try referenceBatch()
    let workspace = model.makeWorkspace(maxBatch: 32)
    // PyTorch SGD: g += wd·w; buf = g at the first step, else momentum·buf + g; w -= lr·buf.
    let (lr, momentum, weightDecay): (Float, Float, Float) = (0.05, 0.9, 1e-4)
    var velocity = [Float](repeating: 0, count: parameters.count)
    for step in 0..<5 {
        let pass = try trainingPass(model, workspace, parameters: parameters, buffers: buffers,
                                    x: batch.x, labels: batch.labels)
        model.applyBatchStatistics(workspace.batchStatistics, to: &buffers)
        for i in parameters.indices {
            let g = pass.gradients[i] + weightDecay * parameters[i]
            velocity[i] = step == 0 ? g : momentum * velocity[i] + g
            parameters[i] -= lr * velocity[i]
        }
    }
    // Five steps amplify float32 summation-order differences (BLAS blocking, BN sums):
    // compare with rtol 1e-3 / atol 5e-5 instead of the single-pass 1e-4 / 1e-5.
    let after = try root.group("after_5_sgd_steps")
    for view in model.parameters.views {
        assertClose(slice(parameters, model.parameters, view.name), try after.read(Float.self, view.name).values,
                    rtol: 1e-3, atol: 5e-5, "after 5 steps \(view.name)")
    }
    for view in model.buffers.views {
        assertClose(slice(buffers, model.buffers, view.name), try after.read(Float.self, view.name).values,
                    rtol: 1e-3, atol: 5e-5, "after 5 steps \(view.name)")
    }
}

@Test func forwardFLOPsCountConvAndLinearMultiplyAdds() throws {
    let model = try referenceModel()
    let conv1 = 2 * 32 * 9 * 28 * 28, conv2 = 2 * 64 * 32 * 9 * 14 * 14
    #expect(model.forwardFLOPsPerSample == conv1 + conv2 + 2 * 3136 * 128 + 2 * 128 * 10)
}
