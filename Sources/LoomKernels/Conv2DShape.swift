// Geometry of a 2-D convolution (square kernel, equal stride and padding on both axes),
// shared by the forward and backward kernels and by the model's shape inference.

/// Sizes of one conv2d: input (N, C, H, W) → output (N, OC, OH, OW), weight (OC, C, K, K).
public struct Conv2DShape: Equatable, Sendable {
    public var inChannels: Int
    public var outChannels: Int
    /// Input height H and width W.
    public var height: Int
    public var width: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(inChannels: Int, outChannels: Int, height: Int, width: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    /// OH = ⌊(H + 2P − K) / S⌋ + 1.
    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    /// OW = ⌊(W + 2P − K) / S⌋ + 1.
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Rows of the lowered (im2col) matrix: C·K·K, the GEMM reduction length.
    public var columnRows: Int { inChannels * kernel * kernel }
    /// Output pixels per image, OH·OW.
    public var outPixels: Int { outHeight * outWidth }
    /// Input floats per image, C·H·W.
    public var inputCount: Int { inChannels * height * width }
    /// Output floats per image, OC·OH·OW.
    public var outputCount: Int { outChannels * outPixels }
    /// Weight floats, OC·C·K·K.
    public var weightCount: Int { outChannels * columnRows }
    /// Forward FLOPs per image (a multiply-add counts 2).
    public var forwardFLOPs: Int { 2 * outChannels * columnRows * outPixels }

    /// Floats of scratch the conv kernels need to lower `images` images at a time: the
    /// lowered input (C·K·K, images·OH·OW).
    public func scratchCount(imagesPerGEMM images: Int) -> Int {
        columnRows * images * outPixels
    }

    /// Images per GEMM so that the lowered input stays near `targetFloats` (cache-sized),
    /// at least 1 and at most `batch`.
    public func imagesPerGEMM(batch: Int, targetFloats: Int = 160 * 1024) -> Int {
        let perImage = max(columnRows * outPixels, 1)
        return min(max(targetFloats / perImage, 1), max(batch, 1))
    }
}
