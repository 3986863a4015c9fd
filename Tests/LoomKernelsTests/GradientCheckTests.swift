// Finite-difference checks of backward passes without PyTorch fixtures: dropout, residual
// add, flatten, batch norm 1-D in eval mode, softmax cross-entropy.
import LoomKernels
import Testing

@Test func dropoutBackwardIsTheGradientOfForward() {
    let (n, f) = (3, 8)
    let x = testValues(n * f, key: 1), dy = testValues(n * f, key: 2)
    let ids: [Int] = [7, 11, 13]
    func forward(_ v: [Float]) -> (y: [Float], mask: [Float]) {
        var y = [Float](repeating: 0, count: n * f), mask = y
        dropoutForward(y: &y, mask: &mask, x: v, batch: n, features: f, p: 0.5, seed: 3, step: 4,
                       sampleIDs: ids, layer: 2)
        return (y, mask)
    }
    var dx = [Float](repeating: 0, count: n * f)
    dropoutBackward(dx: &dx, dy: dy, mask: forward(x).mask, count: n * f)
    expectGradientsAgree(dx, numericalGradient(of: { forward($0).y }, at: x, dy: dy), "dropout dx")
}

@Test func residualAddBackwardIsTheGradientOfForward() {
    // y = x + body(x) with body = relu: dx = dy + relu'(x)·dy.
    let count = 12
    let x = testValues(count, key: 3).map { $0 + ($0 >= 0 ? 0.05 : -0.05) }, dy = testValues(count, key: 4)
    func forward(_ v: [Float]) -> [Float] {
        var body = [Float](repeating: 0, count: count), y = body
        reluForward(y: &body, x: v, count: count)
        residualAddForward(y: &y, x: v, body: body, count: count)
        return y
    }
    var body = [Float](repeating: 0, count: count), dbody = body, dx = body
    reluForward(y: &body, x: x, count: count)
    reluBackward(dx: &dbody, dy: dy, y: body, count: count)
    residualAddBackward(dx: &dx, dy: dy, dblockInput: dbody, count: count)
    expectGradientsAgree(dx, numericalGradient(of: forward, at: x, dy: dy), "residual dx")
}

@Test func flattenBackwardIsTheGradientOfForward() {
    let count = 2 * 3 * 2 * 2
    let x = testValues(count, key: 5), dy = testValues(count, key: 6)
    func forward(_ v: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: count)
        flattenForward(y: &y, x: v, count: count)
        return y
    }
    var dx = [Float](repeating: 0, count: count)
    flattenBackward(dx: &dx, dy: dy, count: count)
    expectGradientsAgree(dx, numericalGradient(of: forward, at: x, dy: dy), "flatten dx")
}

@Test func batchNorm1DEvalBackwardIsTheGradientOfForward() {
    let (n, c) = (4, 5)
    let x = testValues(n * c, key: 7), dy = testValues(n * c, key: 8)
    let weight = testValues(c, key: 9).map { $0 + 1.5 }, bias = testValues(c, key: 10)
    let mean = testValues(c, key: 11), variance = testValues(c, key: 12).map { $0 + 1.2 }
    var invStd = [Float](repeating: 0, count: c)
    batchNormInverseStd(invStd: &invStd, variance: variance, channels: c, eps: 1e-5)
    func forward(x: [Float], weight: [Float], bias: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: n * c)
        batchNormForwardInference(y: &y, x: x, weight: weight, bias: bias, mean: mean, invStd: invStd,
                                  batch: n, channels: c, spatial: 1)
        return y
    }
    var dx = [Float](repeating: 0, count: n * c)
    var dweight = [Float](repeating: 0, count: c), dbias = dweight
    batchNormBackward(dx: &dx, dweight: &dweight, dbias: &dbias, dy: dy, x: x, weight: weight, mean: mean,
                      invStd: invStd, batch: n, channels: c, spatial: 1, batchStatistics: false)
    expectGradientsAgree(dx, numericalGradient(of: { forward(x: $0, weight: weight, bias: bias) }, at: x, dy: dy), "bn1d eval dx")
    expectGradientsAgree(dweight, numericalGradient(of: { forward(x: x, weight: $0, bias: bias) }, at: weight, dy: dy),
                         "bn1d eval dweight")
    expectGradientsAgree(dbias, numericalGradient(of: { forward(x: x, weight: weight, bias: $0) }, at: bias, dy: dy),
                         "bn1d eval dbias")
}

