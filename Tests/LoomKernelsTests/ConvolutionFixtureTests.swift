// Conv2d forward and backward against PyTorch (layers.h5 conv cases).
import LoomKernels
import LoomTestSupport
import Testing

private func shape(of c: LayerCase) -> Conv2DShape {
    let channels = c.positionalIntegers
    return Conv2DShape(inChannels: channels[0], outChannels: channels[1], height: c.x.shape[2],
                       width: c.x.shape[3], kernel: c.integer("kernel_size") ?? 1,
                       stride: c.integer("stride") ?? 1, padding: c.integer("padding") ?? 0)
}

/// Runs forward and backward with `imagesPerGEMM` images per GEMM; dweight/dbias start at `start`.
private func runConvolution(_ c: LayerCase, imagesPerGEMM: Int, start: Float = 0) throws
    -> (y: [Float], dx: [Float], dweight: [Float], dbias: [Float]) {
    let s = shape(of: c)
    let n = c.x.shape[0]
    let hasBias = c.has("param.bias")
    let weight = try c.param("weight")
    let bias = hasBias ? try c.param("bias") : [Float](repeating: 0, count: s.outChannels)
    var y = [Float](repeating: 0, count: n * s.outputCount)
    var dx = [Float](repeating: 0, count: n * s.inputCount)
    var dweight = [Float](repeating: start, count: s.weightCount)
    var dbias = [Float](repeating: start, count: s.outChannels)
    var scratch = [Float](repeating: 0, count: s.scratchCount(imagesPerGEMM: imagesPerGEMM))
    bias.withUnsafeBufferPointer { b in
        dbias.withUnsafeMutableBufferPointer { db in
            conv2dForward(y: &y, x: c.x.values, weight: weight, bias: hasBias ? b.baseAddress : nil,
                          batch: n, shape: s, scratch: &scratch, imagesPerGEMM: imagesPerGEMM)
            conv2dBackward(dx: &dx, dweight: &dweight, dbias: hasBias ? db.baseAddress : nil, dy: c.dy.values,
                           x: c.x.values, weight: weight, batch: n, shape: s, scratch: &scratch,
                           imagesPerGEMM: imagesPerGEMM)
        }
    }
    return (y, dx, dweight, dbias)
}

let convolutionCases = ["conv3x3_pad1", "conv3x3_valid", "conv5x5_stride2", "conv1x1_nobias"]

@Test(arguments: convolutionCases)
func convolutionOutputMatchesPyTorch(_ name: String) throws {
    let c = try LayerCase(name)
    #expect(shape(of: c).outHeight == c.y.shape[2] && shape(of: c).outWidth == c.y.shape[3])
    assertClose(try runConvolution(c, imagesPerGEMM: 1).y, c.y.values, "\(name) y")
}

@Test(arguments: convolutionCases)
func convolutionGradientsMatchPyTorch(_ name: String) throws {
    let c = try LayerCase(name)
    let r = try runConvolution(c, imagesPerGEMM: 1)
    assertClose(r.dx, c.dx.values, "\(name) dx")
    assertClose(r.dweight, try c.grad("weight"), "\(name) grad.weight")
    if c.has("grad.bias") { assertClose(r.dbias, try c.grad("bias"), "\(name) grad.bias") }
}

@Test(arguments: convolutionCases)
func convolutionIsIndependentOfImagesPerGEMM(_ name: String) throws {
    let c = try LayerCase(name)
    // 2 images per GEMM leaves a remainder chunk on the 3-image cases.
    for chunk in [2, c.x.shape[0]] {
        let r = try runConvolution(c, imagesPerGEMM: chunk)
        assertClose(r.y, c.y.values, "\(name) y, \(chunk) per GEMM")
        assertClose(r.dx, c.dx.values, "\(name) dx, \(chunk) per GEMM")
        assertClose(r.dweight, try c.grad("weight"), "\(name) grad.weight, \(chunk) per GEMM")
    }
}

@Test func convolutionBackwardAccumulatesParameterGradients() throws {
    let c = try LayerCase("conv3x3_pad1")
    let r = try runConvolution(c, imagesPerGEMM: 2, start: 1)
    assertClose(r.dweight, try c.grad("weight").map { $0 + 1 }, "grad.weight added to 1")
    assertClose(r.dbias, try c.grad("bias").map { $0 + 1 }, "grad.bias added to 1")
}
