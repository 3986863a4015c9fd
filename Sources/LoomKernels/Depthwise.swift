// Depthwise convolution: one k×k filter per channel (PyTorch `Conv2d(C, C, k, stride, padding,
// groups=C)`). It is not a GEMM (each output reads k² inputs of one plane), so it has its own
// kernels in CKernels (`loom_depthwise_forward`, `loom_depthwise_backward`), chosen by shape:
// the polyphase kernel (LayerBodies.h) copies each plane into a zero-padded polyphase layout,
// where every tap of every stride is one flat unit-stride vector loop over the output grid;
// the lane kernel (DepthwiseLanes.h), for small planes that grid would fill badly (7×7),
// transposes 16 channels into the 16 lanes of a vector, so every tap is one load per output.
//
// Determinism: each output element is the bias (or 0) plus its taps in (ky, kx) order; each
// input gradient the sum of w·dy over the taps that read it, in (ky, kx) order (both the same
// bits from either kernel); each weight gradient one sum per plane (a 16-lane dot product in
// the polyphase kernel, row sums added in row order in the lane kernel), added over the batch
// in sample order. The kernel depends on the shape alone. No threads, no fused multiply-add,
// the same bits on every path (SSE2, AVX2, AVX-512). docs/KERNELS.md has the details.
import CKernels

/// Sizes of one depthwise convolution. x (N, C, H, W) → y (N, C, outHeight, outWidth).
public struct DepthwiseShape: Equatable, Sendable {
    public let channels: Int, height: Int, width: Int
    public let kernel: Int, stride: Int, padding: Int

    public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.channels = channels; self.height = height; self.width = width
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Multiply-adds of one sample's forward pass, times 2.
    public var forwardFLOPs: Int { 2 * channels * outHeight * outWidth * kernel * kernel }
}

/// Forward: y (N, C, OH, OW) = bias[c] + Σ_taps w[c, ky, kx] · x[n, c, oy·s − p + ky, ox·s − p + kx].
/// weight (C, 1, k, k); bias (C) or nil.
public func depthwiseForward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                             batch: Int, shape s: DepthwiseShape) {
    var c = s.cShape
    // The scratch is a few plane copies (kilobytes): running out of memory there is fatal.
    // (Called outside `precondition`, whose condition -Ounchecked does not evaluate.)
    let done = loom_depthwise_forward(y, x, weight, bias, batch, &c)
    if done == 0 { fatalError("depthwise2d: out of memory for its scratch") }
}

/// Backward: dx (overwritten, when given) = the transposed taps applied to dy; dweight and
/// dbias (accumulated) = Σ over samples and outputs of dy times the input each tap read.
public func depthwiseBackward(dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                              dbias: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>,
                              x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              batch: Int, shape s: DepthwiseShape) {
    var c = s.cShape
    let done = loom_depthwise_backward(dx, dweight, dbias, dy, x, weight, batch, &c)
    if done == 0 { fatalError("depthwise2d: out of memory for its scratch") }
}

extension DepthwiseShape {
    var cShape: loom_depthwise_shape {
        loom_depthwise_shape(channels: channels, height: height, width: width, kernel: kernel, stride: stride,
                             padding: padding)
    }

    /// Bytes a forward pass over `batch` samples reads and writes at the least: x and y of
    /// every sample, and the weights once.
    public func forwardBytes(batch: Int) -> Int {
        4 * (batch * (channels * height * width + channels * outHeight * outWidth) + channels * kernel * kernel)
    }
    /// Bytes a backward pass over `batch` samples reads and writes at the least: dy, x and dx
    /// of every sample, and the weights and their gradient once.
    public func backwardBytes(batch: Int) -> Int {
        4 * (batch * (channels * outHeight * outWidth + 2 * channels * height * width) + 2 * channels * kernel * kernel)
    }
}
