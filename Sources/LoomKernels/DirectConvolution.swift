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

    /// The forward pass runs the channel-vectorised direct kernel: the planes the grid kernel
    /// leaves (below 7×7 outputs, or a grid mostly padding) and those of up to 8×8 outputs,
    /// where the grid wastes 20-23% of its lanes and its short rows cost more than the
    /// channel kernel's packing, for at least 16 output channels (its vector) and a kernel
    /// other than the pointwise 1×1 stride 1. Both kernels give the same bits, so this
    /// choice only moves time.
    public var usesChannelForward: Bool {
        !isPointwise && outChannels >= 16 && (!usesDirectForward || outPixels <= 64)
    }

    /// The weight gradient runs the channel-vectorised kernel: every shape the grid kernel
    /// leaves (strided, or planes under 14×14 outputs) with at least 16 output channels, but
    /// the pointwise 1×1 stride 1 (sgemm without lowering).
    public var usesChannelWeightGradient: Bool {
        !usesDirectWeightGradient && !isPointwise && outChannels >= 16
    }

    /// The weight gradient runs the direct kernel: stride 1, on planes of at least 14×14
    /// outputs (below that, a 16-lane dot product per weight and sample is too short to
    /// amortise its lane sums; strided, its reads spread over s² sub-planes). Planes under
    /// 20×20 with 16-63 output channels go to the channel kernel instead, which runs them
    /// 20-25% faster (32→32 at 14×14 and 16×16); with 64 channels its blocks no longer fit
    /// the cache as well and the grid wins again.
    public var usesDirectWeightGradient: Bool {
        stride == 1 && !isPointwise && outPixels >= 196 && directGridUse >= 0.7
            && (outPixels >= 400 || outChannels < 16 || outChannels >= 64)
    }

    /// dx is the direct convolution of dy with the flipped, transposed weights (stride 1,
    /// P ≤ K − 1): the forward pass of `transposedStrideOne`, by either direct kernel.
    var usesDirectInputGradient: Bool {
        stride == 1 && padding <= kernel - 1 && kernel > 1
            && (transposedStrideOneUsesDirectKernel || transposedStrideOne.usesChannelForward)
    }

    /// Whether dx's convolution (`transposedStrideOne`) has planes the grid kernel takes.
    public var transposedStrideOneUsesDirectKernel: Bool {
        transposedStrideOne.usesDirectForward && !transposedStrideOne.usesChannelForward
    }

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

/// Which of the two direct kernels computes a pass. They differ in speed, not in the bits of
/// the forward pass or dx; the weight gradients sum in different orders (CKernelsConv.h).
public enum DirectConvolutionKernel: Sendable, CaseIterable {
    /// Vectors over the output grid of one sample (`loom_conv_forward`, ...).
    case grid
    /// Vectors over 16 output channels, pixels of several samples per register block
    /// (`loom_conv_forward_channels`, ...).
    case channels
}

extension Conv2DShape {
    /// The kernel of the forward pass, nil for sgemm.
    public var forwardKernel: DirectConvolutionKernel? {
        usesChannelForward ? .channels : usesDirectForward ? .grid : nil
    }

    /// The kernel of the weight gradient, nil for sgemm.
    public var weightGradientKernel: DirectConvolutionKernel? {
        usesDirectWeightGradient ? .grid : usesChannelWeightGradient ? .channels : nil
    }

    /// The kernel of dx, nil for sgemm (or, strided, `usesStridedInputGradient`).
    public var inputGradientKernel: DirectConvolutionKernel? {
        usesDirectInputGradient ? transposedStrideOne.forwardKernel : nil
    }

    /// dx of a strided convolution runs the channel-vectorised transposed kernel (vectors
    /// over 16 input channels) instead of sgemm and col2im: at least 16 input channels.
    public var usesStridedInputGradient: Bool { stride > 1 && inChannels >= 16 }
}

// The scratch is the padded input copies and a packed copy of the weights: running out of
// memory there is fatal. (Checked outside `precondition`, which -Ounchecked drops.)
private func scratchAllocated(_ done: Int32) {
    if done == 0 { fatalError("conv2d: out of memory for the direct kernel's scratch") }
}

/// y (N, OC, OH, OW) = bias + conv(x (N, C, H, W), weight (OC, C, K, K)) by a direct kernel
/// (the shape's choice unless one is given).
public func directConvForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                              weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              batch: Int, shape s: Conv2DShape, kernel: DirectConvolutionKernel? = nil) {
    var c = s.cConvShape
    switch kernel ?? s.forwardKernel ?? .grid {
    case .grid: scratchAllocated(loom_conv_forward(y, x, weight, bias, batch, &c))
    case .channels: scratchAllocated(loom_conv_forward_channels(y, x, weight, bias, batch, &c))
    }
}

/// dweight (OC, C, K, K) += Σ_n Σ_pixels dy · (the input each tap read), by a direct kernel
/// (the shape's choice unless one is given).
public func directConvWeightGradient(dweight: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                     x: UnsafePointer<Float>, batch: Int, shape s: Conv2DShape,
                                     kernel: DirectConvolutionKernel? = nil) {
    var c = s.cConvShape
    switch kernel ?? s.weightGradientKernel ?? .grid {
    case .grid: scratchAllocated(loom_conv_weight_gradient(dweight, dy, x, batch, &c))
    case .channels: scratchAllocated(loom_conv_weight_gradient_channels(dweight, dy, x, batch, &c))
    }
}

/// dx (N, C, H, W) of a stride-1 convolution (P ≤ K − 1): the direct convolution of dy with
/// the weights flipped in (kh, kw) and transposed in (oc, c), padding K − 1 − P, read in
/// place by the kernel's packing (no flipped copy).
public func directConvInputGradient(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, batch: Int, shape s: Conv2DShape,
                                    kernel: DirectConvolutionKernel? = nil) {
    var c = s.cConvShape
    switch kernel ?? s.inputGradientKernel ?? .grid {
    case .grid: scratchAllocated(loom_conv_input_gradient(dx, dy, weight, batch, &c))
    case .channels: scratchAllocated(loom_conv_input_gradient_channels(dx, dy, weight, batch, &c))
    }
}

/// dx (N, C, H, W) of a convolution of any stride by the channel-vectorised transposed kernel
/// (`loom_conv_input_gradient_strided`): each dx sums o in order and, within o, the taps that
/// reach it in (ky, kx) order.
public func directConvStridedInputGradient(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                           weight: UnsafePointer<Float>, batch: Int, shape s: Conv2DShape) {
    var c = s.cConvShape
    scratchAllocated(loom_conv_input_gradient_strided(dx, dy, weight, batch, &c))
}
