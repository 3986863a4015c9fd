// Max, average and global average pooling against PyTorch (layers.h5 pooling cases).
import LoomKernels
import LoomTestSupport
import Testing

private func poolShape(_ c: LayerCase) -> Pool2DShape {
    let kernel = c.integer("kernel_size") ?? 2
    return Pool2DShape(channels: c.x.shape[1], height: c.x.shape[2], width: c.x.shape[3], kernel: kernel,
                       stride: c.integer("stride") ?? kernel, padding: c.integer("padding") ?? 0)
}

@Test(arguments: ["maxpool2", "maxpool3_stride2_pad1"])
func maxPoolMatchesPyTorch(_ name: String) throws {
    let c = try LayerCase(name)
    let s = poolShape(c)
    let n = c.x.shape[0]
    var y = [Float](repeating: 0, count: n * s.outputCount)
    var argmax = [Int32](repeating: 0, count: n * s.outputCount)
    var dx = [Float](repeating: 0, count: n * s.inputCount)
    maxPool2dForward(y: &y, argmax: &argmax, x: c.x.values, batch: n, shape: s)
    maxPool2dBackward(dx: &dx, dy: c.dy.values, argmax: argmax, batch: n, shape: s)
    assertClose(y, c.y.values, "\(name) y")
    assertClose(dx, c.dx.values, "\(name) dx")
}

@Test func avgPoolMatchesPyTorch() throws {
    let c = try LayerCase("avgpool2")
    let s = poolShape(c)
    let n = c.x.shape[0]
    var y = [Float](repeating: 0, count: n * s.outputCount)
    var dx = [Float](repeating: 0, count: n * s.inputCount)
    avgPool2dForward(y: &y, x: c.x.values, batch: n, shape: s)
    avgPool2dBackward(dx: &dx, dy: c.dy.values, batch: n, shape: s)
    assertClose(y, c.y.values, "avgpool2 y")
    assertClose(dx, c.dx.values, "avgpool2 dx")
}

@Test func avgPoolCountsPaddingInTheDivisor() {
    // PyTorch AvgPool2d(3, stride 1, padding 1), count_include_pad: a corner window of a
    // 2x2 image of ones covers 4 ones out of 9 cells → 4/9.
    let s = Pool2DShape(channels: 1, height: 2, width: 2, kernel: 3, stride: 1, padding: 1)
    var y = [Float](repeating: 0, count: 4)
    avgPool2dForward(y: &y, x: [1, 1, 1, 1], batch: 1, shape: s)
    #expect(y.allSatisfy { abs($0 - 4.0 / 9.0) < 1e-6 })
}

@Test func globalAvgPoolMatchesPyTorch() throws {
    let c = try LayerCase("global_avgpool")
    let (n, ch, spatial) = (c.x.shape[0], c.x.shape[1], c.x.shape[2] * c.x.shape[3])
    var y = [Float](repeating: 0, count: n * ch)
    var dx = [Float](repeating: 0, count: n * ch * spatial)
    globalAvgPoolForward(y: &y, x: c.x.values, batch: n, channels: ch, spatial: spatial)
    globalAvgPoolBackward(dx: &dx, dy: c.dy.values, batch: n, channels: ch, spatial: spatial)
    assertClose(y, c.y.values, "global_avgpool y")
    assertClose(dx, c.dx.values, "global_avgpool dx")
}
