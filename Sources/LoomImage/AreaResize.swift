// Area-averaging resampling: each output pixel is the mean of the source area it covers,
// every source pixel weighted by the fraction of it inside that area (exact box filter,
// as OpenCV's INTER_AREA when shrinking). Separable: a horizontal pass over the rows the
// window touches into float, then a vertical pass. The window may have fractional edges,
// so a centred square crop of an odd-sized box is exact too.

/// A rectangle of source pixels with fractional edges: columns x ..< x + width.
public struct SourceWindow: Equatable, Sendable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
}

public enum AreaResize {
    /// For each of `count` outputs covering [start, start + length) of a source axis of
    /// `limit` pixels: the first source index and the normalised weights of consecutive
    /// source pixels.
    static func taps(start: Double, length: Double, count: Int, limit: Int) -> [(first: Int, weights: [Float])] {
        let step = length / Double(count)
        return (0..<count).map { o in
            let a = start + Double(o) * step, b = a + step
            let first = max(0, min(limit - 1, Int(a.rounded(.down))))
            let last = max(first, min(limit - 1, Int(b.rounded(.up)) - 1))
            var weights: [Float] = []
            var total = 0.0
            for i in first...last {
                let w = max(0, min(b, Double(i + 1)) - max(a, Double(i)))
                weights.append(Float(w)); total += w
            }
            if total <= 0 { return (first, [1] + Array(repeating: 0, count: weights.count - 1)) }
            return (first, weights.map { $0 / Float(total) })
        }
    }

    /// Resamples `window` of `source` to `width` x `height` pixels, written into `output`
    /// at `(offsetX, offsetY)` of an image `outputWidth` pixels wide (RGB, row-major).
    public static func resample(_ source: RGBImage, window: SourceWindow, width: Int, height: Int,
                                into output: UnsafeMutablePointer<UInt8>, outputWidth: Int,
                                offsetX: Int = 0, offsetY: Int = 0) {
        let columns = taps(start: window.x, length: window.width, count: width, limit: source.width)
        let rows = taps(start: window.y, length: window.height, count: height, limit: source.height)
        let firstRow = rows.first!.first
        let lastRow = rows.map { $0.first + $0.weights.count - 1 }.max()!
        let rowCount = lastRow - firstRow + 1
        // Horizontal pass: (rowCount, width, 3) floats.
        var horizontal = [Float](repeating: 0, count: rowCount * width * 3)
        source.pixels.withUnsafeBufferPointer { src in
            horizontal.withUnsafeMutableBufferPointer { h in
                for r in 0..<rowCount {
                    let line = (firstRow + r) * source.width * 3
                    for (x, tap) in columns.enumerated() {
                        var s0: Float = 0, s1: Float = 0, s2: Float = 0
                        var p = line + tap.first * 3
                        for w in tap.weights {
                            s0 += w * Float(src[p]); s1 += w * Float(src[p + 1]); s2 += w * Float(src[p + 2])
                            p += 3
                        }
                        let d = (r * width + x) * 3
                        h[d] = s0; h[d + 1] = s1; h[d + 2] = s2
                    }
                }
            }
        }
        // Vertical pass, rounded to the nearest level.
        horizontal.withUnsafeBufferPointer { h in
            for (y, tap) in rows.enumerated() {
                let dst = output + ((offsetY + y) * outputWidth + offsetX) * 3
                for k in 0..<(width * 3) {
                    var s: Float = 0
                    var p = (tap.first - firstRow) * width * 3 + k
                    for w in tap.weights { s += w * h[p]; p += width * 3 }
                    dst[k] = UInt8(max(0, min(255, s + 0.5)))
                }
            }
        }
    }
}
