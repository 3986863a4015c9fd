// "Same" convolutions (stride 1, K = 2P + 1) take the shifted-plane im2col/col2im path;
// the fixtures cover 3x3 pad 1 and 1x1. Here a 5x5 pad 2 and a 3x3 pad 1 with a width that
// is not a multiple of 8 against a direct sum in Double (their dx by the flipped convolution,
// a chunk of 2 images lowered one at a time), and a 1x1 (pointwise: no lowering at all).
import LoomKernels
import LoomTestSupport
import Testing

/// y (N, OC, H, W), dx, dweight of a stride-1 "same" conv by the definition, in Double.
private func directConvolution(x: [Float], weight: [Float], dy: [Float], _ s: Conv2DShape, batch n: Int)
    -> (y: [Float], dx: [Float], dweight: [Float]) {
    let (c, oc, h, w, k, p) = (s.inChannels, s.outChannels, s.height, s.width, s.kernel, s.padding)
    var y = [Double](repeating: 0, count: n * oc * h * w)
    var dx = [Double](repeating: 0, count: x.count), dweight = [Double](repeating: 0, count: weight.count)
    for i in 0..<n {
        for o in 0..<oc {
            for r in 0..<h {
                for q in 0..<w {
                    let out = ((i * oc + o) * h + r) * w + q
                    for ci in 0..<c {
                        for kh in 0..<k {
                            for kw in 0..<k {
                                let (ih, iw) = (r - p + kh, q - p + kw)
                                guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                                let xi = ((i * c + ci) * h + ih) * w + iw, wi = ((o * c + ci) * k + kh) * k + kw
                                y[out] += Double(weight[wi]) * Double(x[xi])
                                dx[xi] += Double(weight[wi]) * Double(dy[out])
                                dweight[wi] += Double(x[xi]) * Double(dy[out])
                            }
                        }
                    }
                }
            }
        }
    }
    return (y.map { Float($0) }, dx.map { Float($0) }, dweight.map { Float($0) })
}

@Test(arguments: [(kernel: 5, padding: 2, width: 9), (kernel: 3, padding: 1, width: 13), (kernel: 1, padding: 0, width: 7)])
func sameConvolutionMatchesTheDefinition(_ geometry: (kernel: Int, padding: Int, width: Int)) {
    let n = 3
    let s = Conv2DShape(inChannels: 2, outChannels: 3, height: 6, width: geometry.width,
                        kernel: geometry.kernel, padding: geometry.padding)
    let x = testValues(n * s.inputCount, key: 600), weight = testValues(s.weightCount, key: 601)
    let dy = testValues(n * s.outputCount, key: 602)
    let expected = directConvolution(x: x, weight: weight, dy: dy, s, batch: n)
    var y = [Float](repeating: 0, count: n * s.outputCount), dx = [Float](repeating: 0, count: x.count)
    var dweight = [Float](repeating: 0, count: s.weightCount)
    var scratch = [Float](repeating: 0, count: s.scratchCount(imagesPerGEMM: 2))
    conv2dForward(y: &y, x: x, weight: weight, bias: nil, batch: n, shape: s, scratch: &scratch, imagesPerGEMM: 2)
    conv2dBackward(dx: &dx, dweight: &dweight, dbias: nil, dy: dy, x: x, weight: weight, batch: n, shape: s,
                   scratch: &scratch, imagesPerGEMM: 2)
    assertClose(y, expected.y, "y")
    assertClose(dx, expected.dx, "dx")
    assertClose(dweight, expected.dweight, "dweight")
}
