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
    // PyTorch's result after five steps hinges on one float32 rounding decision, so it is
    // reproducible elementwise only by bit-identical arithmetic. Evidence (a float64 NumPy
    // reimplementation of this network and SGD, independent of Loom): it reproduces the
    // logits and every step-1 gradient to ~1e-7, and its five steps agree with a float32
    // run of itself, but differ from `after_5_sgd_steps` by a relative L2 of 2.3e-3 in
    // b1.bias, 2.1e-4 in c1/c2.weight (1188 elements outside rtol 1e-4 / atol 1e-5) —
    // as Loom does. Routing ONE max-pool gradient the other way — step 2, second pool,
    // image 19, channel 42, window (6, 5), whose two largest c2 outputs are 0.62010608 and
    // 0.62010619 in exact arithmetic, 1.9 float32 ulps apart — makes the float64 run match
    // the fixture everywhere (max |diff| 1.4e-7, no element outside the tolerance).
    // PyTorch's conv summed those 288 terms in another order and picked the other element.
    // No formula differs (weight decay on all parameters, buffer = gradient at the first
    // step, unbiased running_var, momentum 0.1 all confirmed; each alternative makes it
    // far worse). So: tensors that the tie does not move (checked by flipping it in the
    // float64 run) are compared elementwise at the tolerance; the others as a whole,
    // within the distance that the tie alone accounts for (relative L2 ≤ 3e-3; the worst,
    // b1.bias, is 2.3e-3).
    let after = try root.group("after_5_sgd_steps")
    let tieInsensitive: Set<String> = ["b1.weight", "b2.weight", "c1.bias", "c2.bias", "f1.weight", "f1.bias",
                                       "f2.bias", "b1.running_var"]
    let finals = [(parameters, model.parameters), (buffers, model.buffers)]
    for (flat, layout) in finals {
        for view in layout.views {
            let ours = slice(flat, layout, view.name)
            let expected = try after.read(Float.self, view.name).values
            if tieInsensitive.contains(view.name) {
                assertClose(ours, expected, "after 5 steps \(view.name)")
            } else {
                let error = relativeL2(ours, expected)
                #expect(error < 3e-3, "after 5 steps \(view.name): relative L2 error \(error)")
            }
        }
    }
}

/// ‖a − e‖₂ / ‖e‖₂ in Double.
private func relativeL2(_ a: [Float], _ e: [Float]) -> Double {
    guard a.count == e.count else { return .infinity }
    let diff = zip(a, e).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    let norm = e.reduce(0.0) { $0 + Double($1) * Double($1) }
    return (diff / max(norm, 1e-30)).squareRoot()
}

@Test func forwardFLOPsCountConvAndLinearMultiplyAdds() throws {
    let model = try referenceModel()
    let conv1 = 2 * 32 * 9 * 28 * 28, conv2 = 2 * 64 * 32 * 9 * 14 * 14
    #expect(model.forwardFLOPsPerSample == conv1 + conv2 + 2 * 3136 * 128 + 2 * 128 * 10)
}
