// Winograd F(2×2, 3×3) convolution (CKernels' `loom_winograd_forward`,
// `loom_winograd_input_gradient`; Winograd.c): each 2×2 block of outputs from its 4×4 input
// patch with 16 multiplications per channel pair instead of 36. It computes other products
// than the direct kernels (the transformed input and weights), so its bits differ from theirs
// and its error has its own bound (docs/KERNELS.md); a model chooses it with
// `model.convolution: auto` (the default) and keeps the direct kernels' bits with `direct`.
//
// Determinism: chosen by the layer's shape alone; the transforms are fixed sequences of IEEE
// additions and exact halvings, each transformed product sum one chain of fused multiply-adds
// in channel order: the same bits on every path, for any batch split, on any x86-64 CPU.
import CKernels

extension Conv2DShape {
    /// The forward pass can run the Winograd kernel: a 3×3, stride-1, padding-1 convolution of
    /// at least 16 input and output channels (below that the transforms cost more than the
    /// products save) on planes of at least 4×4 (a 2×2 plane is one tile per sample, and the
    /// weight transform, 16/9 of the weights, is paid for few tiles).
    public var usesWinogradForward: Bool {
        kernel == 3 && stride == 1 && padding == 1 && inChannels >= 16 && outChannels >= 16
            && height >= 4 && width >= 4
    }

    /// dx can run the Winograd kernel: the same test (dx of such a layer is a 3×3 "same"
    /// convolution of dy, OC → C channels, on the same plane).
    public var usesWinogradInputGradient: Bool { usesWinogradForward }
}

// Running out of memory for the kernel's scratch is fatal (checked outside `precondition`,
// which -Ounchecked drops).
private func winogradScratchAllocated(_ done: Int32) {
    if done == 0 { fatalError("conv2d: out of memory for the Winograd kernel's scratch") }
}

/// y (N, OC, H, W) = conv(x (N, C, H, W), weight (OC, C, 3, 3)) (+ bias) by the Winograd
/// kernel; the shape must be one `usesWinogradForward` takes.
public func winogradConvForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                batch: Int, shape s: Conv2DShape) {
    precondition(s.kernel == 3 && s.stride == 1 && s.padding == 1, "Winograd needs a 3×3 stride-1 padding-1 convolution")
    var c = s.cConvShape
    winogradScratchAllocated(loom_winograd_forward(y, x, weight, bias, batch, &c))
}

/// dx (N, C, H, W) of a 3×3 stride-1 padding-1 convolution from dy (N, OC, H, W): the
/// Winograd convolution of dy with the weights flipped in (kh, kw) and transposed in (oc, c).
public func winogradConvInputGradient(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                      weight: UnsafePointer<Float>, batch: Int, shape s: Conv2DShape) {
    precondition(s.kernel == 3 && s.stride == 1 && s.padding == 1, "Winograd needs a 3×3 stride-1 padding-1 convolution")
    var c = s.cConvShape
    winogradScratchAllocated(loom_winograd_input_gradient(dx, dy, weight, batch, &c))
}
