// Batch norm (2-D train and eval, 1-D train) against PyTorch (layers.h5 batchnorm cases).
import LoomHDF5
import LoomKernels
import LoomTestSupport
import Testing

private struct NormResult {
    var y: [Float], dx: [Float], dweight: [Float], dbias: [Float]
    var runningMean: [Float], runningVar: [Float]
}

/// Training mode from running statistics (0, 1), as the fixtures start; one update.
private func runTraining(_ c: LayerCase) throws -> NormResult {
    let n = c.x.shape[0], channels = c.x.shape[1]
    let spatial = c.x.values.count / (n * channels)
    let eps = Float(c.number("eps") ?? 1e-5), momentum = Float(c.number("momentum") ?? 0.1)
    let weight = try c.param("weight"), bias = try c.param("bias")
    var r = NormResult(y: .init(repeating: 0, count: c.x.values.count), dx: .init(repeating: 0, count: c.x.values.count),
                       dweight: .init(repeating: 0, count: channels), dbias: .init(repeating: 0, count: channels),
                       runningMean: .init(repeating: 0, count: channels), runningVar: .init(repeating: 1, count: channels))
    var mean = [Float](repeating: 0, count: channels)
    var invStd = mean, unbiased = mean
    batchNormForwardTraining(y: &r.y, mean: &mean, invStd: &invStd, unbiasedVar: &unbiased, x: c.x.values,
                             weight: weight, bias: bias, batch: n, channels: channels, spatial: spatial, eps: eps)
    batchNormBackward(dx: &r.dx, dweight: &r.dweight, dbias: &r.dbias, dy: c.dy.values, x: c.x.values,
                      weight: weight, mean: mean, invStd: invStd, batch: n, channels: channels, spatial: spatial,
                      batchStatistics: true)
    batchNormUpdateRunning(runningMean: &r.runningMean, runningVar: &r.runningVar, batchMean: mean,
                           batchVar: unbiased, channels: channels, momentum: momentum)
    return r
}

@Test(arguments: ["batchnorm2d_train", "batchnorm1d_train"])
func batchNormTrainingOutputMatchesPyTorch(_ name: String) throws {
    let c = try LayerCase(name)
    assertClose(try runTraining(c).y, c.y.values, "\(name) y")
}

@Test(arguments: ["batchnorm2d_train", "batchnorm1d_train"])
func batchNormTrainingGradientsMatchPyTorch(_ name: String) throws {
    let c = try LayerCase(name)
    let r = try runTraining(c)
    assertClose(r.dx, c.dx.values, "\(name) dx")
    assertClose(r.dweight, try c.grad("weight"), "\(name) grad.weight")
    assertClose(r.dbias, try c.grad("bias"), "\(name) grad.bias")
}

@Test(arguments: ["batchnorm2d_train", "batchnorm1d_train"])
func batchNormRunningStatisticsMatchPyTorch(_ name: String) throws {
    let c = try LayerCase(name)
    let r = try runTraining(c)
    assertClose(r.runningMean, try c.bufferAfter("running_mean"), "\(name) running_mean")
    assertClose(r.runningVar, try c.bufferAfter("running_var"), "\(name) running_var (unbiased)")
}

@Test func batchNormEvalMatchesPyTorch() throws {
    let c = try LayerCase("batchnorm2d_eval")
    let stats = try Fixtures.open("layers.h5").root.group("layers/batchnorm2d_eval_stats")
    let runningMean = try stats.read(Float.self, "running_mean").values
    let runningVar = try stats.read(Float.self, "running_var").values
    let n = c.x.shape[0], channels = c.x.shape[1], spatial = c.x.shape[2] * c.x.shape[3]
    let weight = try c.param("weight"), bias = try c.param("bias")
    var invStd = [Float](repeating: 0, count: channels)
    var y = [Float](repeating: 0, count: c.x.values.count), dx = y
    var dweight = [Float](repeating: 0, count: channels), dbias = dweight
    batchNormInverseStd(invStd: &invStd, variance: runningVar, channels: channels, eps: 1e-5)
    batchNormForwardInference(y: &y, x: c.x.values, weight: weight, bias: bias, mean: runningMean, invStd: invStd,
                              batch: n, channels: channels, spatial: spatial)
    batchNormBackward(dx: &dx, dweight: &dweight, dbias: &dbias, dy: c.dy.values, x: c.x.values, weight: weight,
                      mean: runningMean, invStd: invStd, batch: n, channels: channels, spatial: spatial,
                      batchStatistics: false)
    assertClose(y, c.y.values, "eval y")
    assertClose(dx, c.dx.values, "eval dx")
    assertClose(dweight, try c.grad("weight"), "eval grad.weight")
    assertClose(dbias, try c.grad("bias"), "eval grad.bias")
    // Eval leaves the running statistics as they were.
    assertClose(runningMean, try c.bufferAfter("running_mean"), "eval running_mean")
    assertClose(runningVar, try c.bufferAfter("running_var"), "eval running_var")
}

@Test func everyFixtureLayerCaseIsCovered() throws {
    let tested: Set<String> = Set(convolutionCases + [
        "linear", "relu", "maxpool2", "maxpool3_stride2_pad1", "avgpool2", "global_avgpool",
        "batchnorm2d_train", "batchnorm1d_train", "batchnorm2d_eval",
    ])
    let untested = try allLayerCases().filter { !tested.contains($0) }
    #expect(untested.isEmpty, "layers.h5 cases without a test: \(untested)")
}
