// The shape of one stored image. Datasets store images channels-last, `(H, W, C)` uint8,
// as they come from files; the input pipeline turns them into the model's `(C, H, W)`.

/// Height, width and channels of one image, as stored `(H, W, C)`.
public struct ImageShape: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    public var channels: Int

    public init(height: Int, width: Int, channels: Int) {
        self.height = height; self.width = width; self.channels = channels
    }

    /// Values in one image: H * W * C (bytes for uint8 storage).
    public var elementCount: Int { height * width * channels }

    public var description: String { "\(height)x\(width)x\(channels)" }
}
