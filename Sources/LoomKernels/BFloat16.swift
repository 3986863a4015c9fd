// Rounding float32 arrays to bfloat16 values, kept as float32 (`cluster.wire: bf16`).
// The rule (round to nearest, ties to even; NaN stays NaN; overflow to ±Inf) and the kernel
// are CKernels' (CKernelsBFloat16.h); LoomWire packs the same values into 2-byte frames.
import CKernels

public enum BFloat16 {
    /// values[i] = the bf16 value nearest values[i] (ties to even), as float32.
    public static func round(_ values: inout [Float]) {
        values.withUnsafeMutableBufferPointer { round($0) }
    }

    /// The same for a buffer.
    public static func round(_ values: UnsafeMutableBufferPointer<Float>) {
        if let p = values.baseAddress, !values.isEmpty { loom_bf16_round(p, values.count) }
    }

    /// `values` rounded to bf16 values (a copy).
    public static func rounded(_ values: [Float]) -> [Float] {
        var copy = values
        round(&copy)
        return copy
    }

    /// Whether every value is a bf16 value already (its low 16 bits are zero).
    public static func isExact(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { $0.isEmpty || loom_bf16_exact($0.baseAddress!, $0.count) != 0 }
    }
}
