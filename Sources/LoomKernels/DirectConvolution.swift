// Direct convolution (CKernels' `loom_conv_forward`, `loom_conv_weight_gradient`;
// ConvBodies.h): no lowered matrix and no BLAS. Each input plane is copied once per sample
// into a zero-padded polyphase layout in which every tap of every stride is one flat vector
// loop over the output grid, and a register block of 4 output channels × up to 5 vectors of
// the grid sums its terms straight from that copy, one fused multiply-add per term.
//
// Where it runs instead of im2col + sgemm: the shapes of ResNet-class networks where
// OpenBLAS packs as much as it multiplies (3×3 and larger kernels, 16-128 channels, planes
// of 7×7 and up). Small planes (4×4, 2×2) waste most of a 16-float vector on the grid's
// padding columns and stay on sgemm; so does the pointwise 1×1 stride-1 case, which needs
// no lowering.
//
// Determinism: each output is the bias (or 0), then its terms for c in order and, within c,
// (ky, kx) in order; each weight gradient is, per sample, one 16-lane dot product over the
// output plane, added in sample order. No threads; every term one fused multiply-add (an
// instruction on AVX2 and AVX-512, the correctly rounded fmaf on SSE2): the same bits on
// every path, for any batch split, on any x86-64 CPU. They differ from
// sgemm's bits, which is why the choice below depends on the shape only, never on the host.
import CKernels

extension Conv2DShape {
    /// Output pixels per 16-float vector of the direct kernel's grid: OH rows of ⌈(W + 2P) / S⌉.
    var directGridUse: Double {
        let wq = (width + 2 * padding + stride - 1) / stride
        let grid = (outHeight * wq + 15) / 16 * 16
        return Double(outPixels) / Double(max(grid, 1))
    }

    /// The forward pass (and, for stride 1, dx) runs the direct kernel: a kernel larger than
    /// 1×1, or a strided 1×1, on planes of at least 7×7 outputs.
    public var usesDirectForward: Bool {
        !isPointwise && outPixels >= 49 && directGridUse >= 0.7
    }

    /// The weight gradient runs the direct kernel: stride 1, on planes of at least 14×14
    /// outputs (below that, a 16-lane dot product per weight and sample is too short to
    /// amortise its lane sums; strided, its reads spread over s² sub-planes).
    public var usesDirectWeightGradient: Bool {
        stride == 1 && !isPointwise && outPixels >= 196 && directGridUse >= 0.7
    }

    /// dx is the direct convolution of dy with the flipped, transposed weights (stride 1,
    /// P ≤ K − 1): the forward pass of `transposedStrideOne`.
    var usesDirectInputGradient: Bool {
        stride == 1 && padding <= kernel - 1 && kernel > 1 && transposedStrideOneUsesDirectKernel
    }

    /// Whether dx's convolution (`transposedStrideOne`) has planes the direct kernel takes.
    public var transposedStrideOneUsesDirectKernel: Bool { transposedStrideOne.usesDirectForward }

    /// The convolution dy → dx of a stride-1 convolution: OC input channels, C output
    /// channels, padding K − 1 − P, so that its output is H × W again.
    var transposedStrideOne: Conv2DShape {
        Conv2DShape(inChannels: outChannels, outChannels: inChannels, height: outHeight, width: outWidth,
                    kernel: kernel, stride: 1, padding: kernel - 1 - padding)
    }

    var cConvShape: loom_conv_shape {
        loom_conv_shape(in_channels: inChannels, out_channels: outChannels, height: height, width: width,
                        kernel: kernel, stride: stride, padding: padding)
    }
}

/// y (N, OC, OH, OW) = bias + conv(x (N, C, H, W), weight (OC, C, K, K)) by the direct kernel.
public func directConvForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                              weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              batch: Int, shape s: Conv2DShape) {
    var c = s.cConvShape
    // The scratch is a sample's plane copies and a packed copy of the weights: running out
    // of memory there is fatal. (Called outside `precondition`, which -Ounchecked drops.)
    let done = loom_conv_forward(y, x, weight, bias, batch, &c)
    if done == 0 { fatalError("conv2d: out of memory for the direct kernel's scratch") }
}

/// dweight (OC, C, K, K) += Σ_n Σ_pixels dy · (the input each tap read), by the direct kernel.
public func directConvWeightGradient(dweight: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                     x: UnsafePointer<Float>, batch: Int, shape s: Conv2DShape) {
    var c = s.cConvShape
    let done = loom_conv_weight_gradient(dweight, dy, x, batch, &c)
    if done == 0 { fatalError("conv2d: out of memory for the direct kernel's scratch") }
}

/// dx (N, C, H, W) of a stride-1 convolution: the direct convolution of dy with the weights
/// flipped in (kh, kw) and transposed in (oc, c), padding K − 1 − P.
func directConvInputGradient(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, batch: Int, shape s: Conv2DShape) {
    let flipped = flippedWeights(weight, s)
    flipped.withUnsafeBufferPointer {
        directConvForward(y: dx, x: dy, weight: $0.baseAddress!, bias: nil, batch: batch, shape: s.transposedStrideOne)
    }
}
