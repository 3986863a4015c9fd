// Geometry of a 2-D pooling window (square kernel, equal stride and padding on both axes).

/// Sizes of one max/avg pool: input (N, C, H, W) → output (N, C, OH, OW), floor mode.
public struct Pool2DShape: Equatable, Sendable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int = 0) {
        self.channels = channels
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
    /// Input floats per image.
    public var inputCount: Int { channels * height * width }
    /// Output floats per image.
    public var outputCount: Int { channels * outHeight * outWidth }
}
