// The fused batch norm → ReLU and residual sum → ReLU kernels (BatchNormReLU.swift,
// CKernels' NormBodies.h) give the bits of the unfused kernels run one after the other, on
// plane lengths around the 16-lane loop and its tail, with zeros of both signs and a NaN
// among the values, and the same bits on every instruction path.
import CKernels
import LoomKernels
import Testing

/// Values of both signs, with +0, −0 and (when asked) a NaN at fixed places.
private func mixedValues(_ n: Int, seed: UInt64, nan: Bool = false) -> [Float] {
    var v = KernelPathTests.values(n, seed: seed)
    if n > 3 { v[1] = 0; v[3] = -0.0 }
    if nan, n > 5 { v[n - 2] = .nan }
    return v
}

private func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }

/// (N, C, S) for batch norm: S around the vector length.
private let normShapes: [(n: Int, c: Int, s: Int)] = [(2, 3, 1), (3, 2, 15), (2, 3, 16), (2, 2, 17), (3, 2, 49), (2, 2, 196)]

/// Unfused and fused results of batch norm → ReLU, forward (training and inference) and
/// backward: y, mean, invStd, unbiasedVar, dx, dweight, dbias, all as bits.
private func normCase(_ shape: (n: Int, c: Int, s: Int), fused: Bool, seed: UInt64) -> [UInt32] {
    let (n, c, s) = shape
    let count = n * c * s
    let x = mixedValues(count, seed: seed)
    let dy = mixedValues(count, seed: seed + 1, nan: true)
    let weight = mixedValues(c, seed: seed + 2).map { $0 + 1.5 }, bias = mixedValues(c, seed: seed + 3)
    var y = [Float](repeating: 9, count: count), mean = [Float](repeating: 0, count: c)
    var invStd = mean, unbiased = mean
    var yInference = y
    var dx = [Float](repeating: 9, count: count), dweight = mixedValues(c, seed: seed + 4), dbias = dweight
    if fused {
        batchNormReLUForwardTraining(y: &y, mean: &mean, invStd: &invStd, unbiasedVar: &unbiased, x: x, weight: weight,
                                     bias: bias, batch: n, channels: c, spatial: s, eps: 1e-5)
        batchNormReLUForwardInference(y: &yInference, x: x, weight: weight, bias: bias, mean: mean, invStd: invStd,
                                      batch: n, channels: c, spatial: s)
        batchNormReLUBackward(dx: &dx, dweight: &dweight, dbias: &dbias, dy: dy, y: y, x: x, weight: weight, mean: mean,
                              invStd: invStd, batch: n, channels: c, spatial: s)
    } else {
        batchNormForwardTraining(y: &y, mean: &mean, invStd: &invStd, unbiasedVar: &unbiased, x: x, weight: weight,
                                 bias: bias, batch: n, channels: c, spatial: s, eps: 1e-5)
        reluForward(y: &y, x: y, count: count)
        batchNormForwardInference(y: &yInference, x: x, weight: weight, bias: bias, mean: mean, invStd: invStd,
                                  batch: n, channels: c, spatial: s)
        reluForward(y: &yInference, x: yInference, count: count)
        var dz = dy
        reluBackward(dx: &dz, dy: dz, y: y, count: count)
        batchNormBackward(dx: &dx, dweight: &dweight, dbias: &dbias, dy: dz, x: x, weight: weight, mean: mean,
                          invStd: invStd, batch: n, channels: c, spatial: s, batchStatistics: true)
    }
    return bits(y + mean + invStd + unbiased + yInference + dx + dweight + dbias)
}

@Test func batchNormReLUGivesTheBitsOfBatchNormThenReLU() {
    for (i, shape) in normShapes.enumerated() {
        let fused = normCase(shape, fused: true, seed: 900 + UInt64(i))
        #expect(fused == normCase(shape, fused: false, seed: 900 + UInt64(i)), "\(shape)")
        // The ReLU did something: some outputs are exactly 0, some positive.
        #expect(fused.contains(0) && fused.contains { Float(bitPattern: $0) > 0 })
    }
}

/// relu(a + b) and the ReLU's backward pass written twice, against the unfused kernels.
private func residualCase(_ n: Int, fused: Bool, seed: UInt64) -> [UInt32] {
    let a = mixedValues(n, seed: seed, nan: true), b = mixedValues(n, seed: seed + 1)
    let dy = mixedValues(n, seed: seed + 2, nan: true)
    var y = [Float](repeating: 9, count: n), d1 = y, d2 = y
    if fused {
        residualAddReLUForward(y: &y, x: a, body: b, count: n)
        reluBackwardTwice(dx: &d1, copy: &d2, dy: dy, y: y, count: n)
    } else {
        residualAddForward(y: &y, x: a, body: b, count: n)
        reluForward(y: &y, x: y, count: n)
        reluBackward(dx: &d1, dy: dy, y: y, count: n)
        d2 = d1
    }
    return bits(y + d1 + d2)
}

@Test func residualSumThenReLUFusedGivesTheSameBits() {
    for n in KernelPathTests.lengths {
        #expect(residualCase(n, fused: true, seed: 950) == residualCase(n, fused: false, seed: 950), "n = \(n)")
    }
    // In place, as the residual block runs it: dx over dy.
    let dy = mixedValues(100, seed: 960), y = mixedValues(100, seed: 961)
    var inPlace = dy, copy = [Float](repeating: 0, count: 100), expected = dy
    reluBackwardTwice(dx: &inPlace, copy: &copy, dy: inPlace, y: y, count: 100)
    reluBackward(dx: &expected, dy: dy, y: y, count: 100)
    #expect(bits(inPlace) == bits(expected) && bits(copy) == bits(expected))
}

// In KernelPathTests' serialized suite: it switches the process's path.
extension KernelPathTests {
    @Test func fusedNormAndResidualKernelsGiveTheSameBitsOnEveryPath() {
        for (i, shape) in normShapes.enumerated() {
            Self.expectOneAnswer(Self.onEveryPath { normCase(shape, fused: true, seed: 970 + UInt64(i)) },
                                 "batch norm → ReLU", shape.s)
        }
        for n in Self.lengths {
            Self.expectOneAnswer(Self.onEveryPath { residualCase(n, fused: true, seed: 980) }, "sum → ReLU", n)
        }
    }
}
