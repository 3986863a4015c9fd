// What `loom bench` sets memory-bound kernels against: the host's memory bandwidth from one
// thread, STREAM's way (copy a = b and triad a = b + s·c over arrays far larger than the
// caches; bytes counted as STREAM counts them, 2 and 3 arrays of 4-byte floats per element,
// without the write-allocate reads), and the bytes/s of the depthwise convolutions of a model.
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU seconds this thread has run since creation (CLOCK_THREAD_CPUTIME_ID). The bandwidth
/// and the depthwise layers are timed with it: on a shared host, the time the scheduler gives
/// other processes is left out of both sides of their ratio (their memory traffic is not).
public struct ThreadClock {
    private let start = ThreadClock.now()
    public init() {}
    /// CPU seconds since `init`, at least a nanosecond.
    public var seconds: Double { max(Self.now() - start, 1e-9) }

    private static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}

public enum MemoryBandwidth {
    public struct Figures: Sendable { public var copy: Double; public var triad: Double }

    /// Best bytes/s of copy and triad over repetitions filling about `seconds`, on arrays of
    /// `floats` floats each (default 16 Mi floats = 64 MiB, twice the largest L3 of today's
    /// x86 server cores per socket slice).
    public static func measure(seconds: Double, floats: Int = 16 << 20, rounds minimum: Int = 2) -> Figures {
        var a = [Float](repeating: 0, count: floats), b = [Float](repeating: 1, count: floats)
        let c = [Float](repeating: 2, count: floats)
        var best = Figures(copy: 0, triad: 0)
        let clock = Stopwatch()
        var rounds = 0
        while clock.seconds < seconds || rounds < minimum {
            a.withUnsafeMutableBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                let t = ThreadClock()
                loom_stream_copy(ap.baseAddress!, bp.baseAddress!, floats)
                best.copy = max(best.copy, Double(8 * floats) / t.seconds)
            } }
            b.withUnsafeMutableBufferPointer { bp in a.withUnsafeBufferPointer { ap in c.withUnsafeBufferPointer { cp in
                let t = ThreadClock()
                loom_stream_triad(bp.baseAddress!, ap.baseAddress!, cp.baseAddress!, 0.5, floats)
                best.triad = max(best.triad, Double(12 * floats) / t.seconds)
            } } }
            rounds += 1
        }
        return best
    }
}

public enum DepthwiseThroughput {
    /// Bytes/s of the forward and backward passes (`DepthwiseShape.forwardBytes(batch:)`,
    /// `backwardBytes(batch:)`: the least traffic of a pass, the weights counted once per
    /// pass) over all `shapes` in turn at `batch` samples, best of repetitions filling about
    /// `seconds`.
    public struct Figures: Sendable { public var forward: Double; public var backward: Double }

    public static func measure(shapes: [DepthwiseShape], batch: Int, seconds: Double) -> Figures {
        measureBesideBandwidth(shapes: shapes, batch: batch, seconds: seconds, bandwidthFloats: nil).layers
    }

    /// The depthwise figures and the memory bandwidth (`MemoryBandwidth.measure`'s copy and
    /// triad on arrays of `bandwidthFloats` floats) in alternating rounds over the same
    /// `seconds`, best of each: on a shared host both see the same spells of load.
    public static func measureBesideBandwidth(shapes: [DepthwiseShape], batch: Int, seconds: Double,
                                              bandwidthFloats: Int? = 16 << 20)
        -> (layers: Figures, bandwidth: MemoryBandwidth.Figures) {
        /// One layer's arrays, filled with small repeating values.
        final class Arrays {
            let x, y, dy, dx, w, dw: UnsafeMutablePointer<Float>
            let counts: [Int]
            init(_ s: DepthwiseShape, batch: Int) {
                let inCount = batch * s.channels * s.height * s.width
                let outCount = batch * s.channels * s.outHeight * s.outWidth
                counts = [inCount, outCount, outCount, inCount, s.channels * s.kernel * s.kernel, s.channels * s.kernel * s.kernel]
                let made = counts.map { UnsafeMutablePointer<Float>.allocate(capacity: max($0, 1)) }
                for (p, n) in zip(made, counts) { for i in 0..<n { p[i] = Float(i % 13) * 0.1 - 0.6 } }
                (x, y, dy, dx, w, dw) = (made[0], made[1], made[2], made[3], made[4], made[5])
            }
            deinit { for p in [x, y, dy, dx, w, dw] { p.deallocate() } }
        }
        let arrays = shapes.map { Arrays($0, batch: batch) }
        let forwardBytes = Double(shapes.reduce(0) { $0 + $1.forwardBytes(batch: batch) })
        let backwardBytes = Double(shapes.reduce(0) { $0 + $1.backwardBytes(batch: batch) })
        var best = Figures(forward: 0, backward: 0)
        var bandwidth = MemoryBandwidth.Figures(copy: 0, triad: 0)
        let clock = Stopwatch()
        var rounds = 0
        while clock.seconds < seconds || rounds < 2 {
            if let floats = bandwidthFloats {
                let round = MemoryBandwidth.measure(seconds: 0, floats: floats, rounds: 1)
                bandwidth = MemoryBandwidth.Figures(copy: max(bandwidth.copy, round.copy), triad: max(bandwidth.triad, round.triad))
            }
            var t = ThreadClock()
            for (i, s) in shapes.enumerated() {
                let a = arrays[i]
                depthwiseForward(y: a.y, x: a.x, weight: a.w, bias: nil, batch: batch, shape: s)
            }
            best.forward = max(best.forward, forwardBytes / t.seconds)
            t = ThreadClock()
            for (i, s) in shapes.enumerated() {
                let a = arrays[i]
                depthwiseBackward(dx: a.dx, dweight: a.dw, dbias: nil, dy: a.dy, x: a.x, weight: a.w, batch: batch, shape: s)
            }
            best.backward = max(best.backward, backwardBytes / t.seconds)
            rounds += 1
        }
        return (best, bandwidth)
    }
}
