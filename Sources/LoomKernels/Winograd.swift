// Winograd F(2×2, 3×3) convolution (CKernels' `loom_winograd_forward`,
// `loom_winograd_input_gradient`, `loom_winograd_weight_gradient`; Winograd.c): each 2×2 block of outputs from its 4×4 input
// patch with 16 multiplications per channel pair instead of 36. It computes other products
// than the direct kernels (the transformed input and weights), so its bits differ from theirs
// and its error has its own bound (docs/KERNELS.md); a model chooses it with
// `model.convolution: auto` (the default) and keeps the direct kernels' bits with `direct`.
//
// Determinism: chosen by the layer's shape alone; the transforms are fixed sequences of IEEE
// additions and exact halvings, each transformed product sum one chain of fused multiply-adds
// in channel order: the same bits on every path, for any batch split, on any x86-64 CPU. The
// weight gradient sums over every tile of the call in order: the same bits on every path
// for the same call's batch (Loom's unit is the micro-shard, never split by threads).
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

    /// dweight can run the Winograd kernel: the same test, except wide layers on small planes
    /// (under 8×8 with more than 128 × 128 channels), whose transformed sums M (16 × C × OC
    /// floats, 4 MB for 256 × 256) outgrow L2 for the few tiles of a batch (ResNet-18's 256 →
    /// 256 at 4×4, batch 16: 0.9x the channel kernel; 128 → 128 at 4×4, batch 32: 1.5x).
    public var usesWinogradWeightGradient: Bool {
        usesWinogradForward && (outPixels >= 64 || inChannels * outChannels <= 128 * 128)
    }
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

/// dweight (OC, C, 3, 3) += the weight gradient of a 3×3 stride-1 padding-1 convolution from
/// x (N, C, H, W) and dy (N, OC, H, W) by the Winograd kernel: one chain of fused multiply-adds
/// per transformed sum over every tile of the batch, so the bits depend on the batch as a
/// whole (a micro-shard, never split), not only on each sample.
public func winogradConvWeightGradient(dweight: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                       x: UnsafePointer<Float>, batch: Int, shape s: Conv2DShape) {
    precondition(s.kernel == 3 && s.stride == 1 && s.padding == 1, "Winograd needs a 3×3 stride-1 padding-1 convolution")
    var c = s.cConvShape
    winogradScratchAllocated(loom_winograd_weight_gradient(dweight, dy, x, batch, &c))
}

/// `winogradConvWeightGradient`, then `winogradConvInputGradient` into dx, from one padded copy
/// of dy (both passes copy dy into the same layout): the same bits as the two calls.
public func winogradConvBackward(dx: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                 dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                 batch: Int, shape s: Conv2DShape) {
    precondition(s.kernel == 3 && s.stride == 1 && s.padding == 1, "Winograd needs a 3×3 stride-1 padding-1 convolution")
    var c = s.cConvShape
    winogradScratchAllocated(loom_winograd_backward(dx, dweight, dy, x, weight, batch, &c))
}
