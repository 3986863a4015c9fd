// The one door to OpenBLAS: thread control, a throughput probe for `loom bench`, and a
// row-major sgemm wrapper that the kernels call with their shapes spelled out.
import CBLAS

/// OpenBLAS process settings and measurements.
public enum BLAS {
    /// Runs OpenBLAS on one thread. Determinism (ARCHITECTURE.md, invariant 1) depends on it: a
    /// multi-threaded sgemm may split K differently from run to run and change the sums.
    /// The first call in a process also faults in OpenBLAS's work buffer
    /// (`faultInWorkBuffer`), on the calling thread: call it from the thread that trains.
    /// `warmUp: false` leaves the buffer cold (to measure what the warm-up is worth).
    public static func useSingleThread(warmUp: Bool = true) {
        openblas_set_num_threads(1)
        if warmUp { _ = workBufferFaultedIn }
    }

    private static let workBufferFaultedIn: Void = faultInWorkBuffer()

    /// The size of the square sgemm `faultInWorkBuffer` runs. On Zen it leaves 1.3 MB of the
    /// buffer written, where a reference-CNN step reaches 400 KB; 384 was the smallest size
    /// that took the stall away there (256 did not), so 768 leaves room for other blockings.
    private static let workBufferWarmUpSize = 768

    /// Runs one `workBufferWarmUpSize`³ sgemm (about 0.9 GFLOP) so that OpenBLAS writes its
    /// packed panels over the first megabytes of its work buffer.
    ///
    /// OpenBLAS maps a large work buffer (256 MB) and writes only what each call packs. Its
    /// sgemm kernels prefetch a few kilobytes beyond the panel they read, and the GEMMs of a
    /// micro-shard pack less than 400 KB: those prefetches land on pages never written. A
    /// prefetch does not fault a page in, so every one of them pays a failed page-table walk,
    /// every call. Under KVM on an AMD EPYC that made a fresh worker's step 1.7 times slower
    /// (200 against 120 ms for the reference CNN at batch 128), and 52% of the kernel's time
    /// sat on one `prefetcht1`. Writing those pages once is enough: they stay. The buffer is
    /// scratch, so no result changes.
    private static func faultInWorkBuffer() {
        let n = workBufferWarmUpSize
        let a = [Float](repeating: 0.5, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        a.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { c in
                gemm(false, false, n, n, n, a.baseAddress!, n, a.baseAddress!, n, beta: 0, c.baseAddress!, n)
            }
        }
    }

    /// Single-thread sgemm throughput in GFLOP/s (2·size³ FLOPs per call) on square
    /// `size`×`size` matrices, repeated for about `seconds` seconds after one warm-up call.
    public static func measureSgemmGFLOPS(size: Int = 512, seconds: Double = 1) -> Double {
        useSingleThread()
        let n = max(size, 1)
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        var random = KeyedRandom(seed: 0, purpose: .dataset, keys: [UInt64(n)])
        for i in 0..<(n * n) {
            a[i] = random.nextFloat() - 0.5
            b[i] = random.nextFloat() - 0.5
        }
        gemm(false, false, n, n, n, a, n, b, n, beta: 0, c, n)
        var calls = 0
        let clock = Stopwatch()
        repeat {
            gemm(false, false, n, n, n, a, n, b, n, beta: 0, c, n)
            calls += 1
        } while clock.seconds < seconds
        return 2 * Double(n) * Double(n) * Double(n) * Double(calls) / clock.seconds / 1e9
    }
}

/// Row-major C (m, n) = op(A) (m, k) · op(B) (k, n) + beta · C, with leading dimensions
/// of the stored (untransposed) matrices. Degenerate sizes are handled here so that
/// OpenBLAS never sees a zero leading dimension.
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
          beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m {
            for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
        }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), 1, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)),
                beta, c, Int32(max(ldc, 1)))
}

/// Wall-clock seconds since creation (monotonic).
public struct Stopwatch {
    private let start = ContinuousClock.now
    public init() {}
    /// Seconds elapsed since `init`.
    public var seconds: Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

