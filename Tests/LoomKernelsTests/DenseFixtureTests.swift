// Linear and ReLU against PyTorch (layers.h5 `linear`, `relu`).
import LoomKernels
import LoomTestSupport
import Testing

private func runLinear(_ c: LayerCase, start: Float) throws -> (y: [Float], dx: [Float], dw: [Float], db: [Float]) {
    let (n, i, o) = (c.x.shape[0], c.x.shape[1], c.y.shape[1])
    let weight = try c.param("weight")
    let bias = try c.param("bias")
    var y = [Float](repeating: 0, count: n * o)
    var dx = [Float](repeating: 0, count: n * i)
    var dw = [Float](repeating: start, count: o * i)
    var db = [Float](repeating: start, count: o)
    linearForward(y: &y, x: c.x.values, weight: weight, bias: bias, batch: n, inFeatures: i, outFeatures: o)
    linearBackward(dx: &dx, dweight: &dw, dbias: &db, dy: c.dy.values, x: c.x.values, weight: weight,
                   batch: n, inFeatures: i, outFeatures: o)
    return (y, dx, dw, db)
}

@Test func linearOutputMatchesPyTorch() throws {
    let c = try LayerCase("linear")
    assertClose(try runLinear(c, start: 0).y, c.y.values, "linear y")
}

@Test func linearGradientsMatchPyTorch() throws {
    let c = try LayerCase("linear")
    let r = try runLinear(c, start: 0)
    assertClose(r.dx, c.dx.values, "linear dx")
    assertClose(r.dw, try c.grad("weight"), "linear grad.weight")
    assertClose(r.db, try c.grad("bias"), "linear grad.bias")
}

@Test func linearBackwardAccumulatesParameterGradients() throws {
    let c = try LayerCase("linear")
    let r = try runLinear(c, start: 2)
    assertClose(r.dw, try c.grad("weight").map { $0 + 2 }, "linear grad.weight added to 2")
    assertClose(r.db, try c.grad("bias").map { $0 + 2 }, "linear grad.bias added to 2")
}

@Test func linearBackwardCanAccumulateTheInputGradient() throws {
    let c = try LayerCase("linear")
    let (n, i, o) = (c.x.shape[0], c.x.shape[1], c.y.shape[1])
    var dx = [Float](repeating: 1, count: n * i)
    var dw = [Float](repeating: 0, count: o * i)
    linearBackward(dx: &dx, dweight: &dw, dbias: nil, dy: c.dy.values, x: c.x.values, weight: try c.param("weight"),
                   batch: n, inFeatures: i, outFeatures: o, accumulateInput: true)
    assertClose(dx, c.dx.values.map { $0 + 1 }, "dx added to 1")
}

@Test func reluMatchesPyTorch() throws {
    let c = try LayerCase("relu")
    let count = c.x.values.count
    var y = [Float](repeating: 0, count: count)
    var dx = [Float](repeating: 0, count: count)
    reluForward(y: &y, x: c.x.values, count: count)
    reluBackward(dx: &dx, dy: c.dy.values, y: y, count: count)
    assertClose(y, c.y.values, "relu y")
    assertClose(dx, c.dx.values, "relu dx")
}
