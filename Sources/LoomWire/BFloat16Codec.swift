// bf16 payload frames (docs/PROTOCOL.md, "bf16 payloads"): a float32 array travels as the
// top 16 bits of each value, 2 bytes little-endian, rounded to nearest even (CKernels'
// CKernelsBFloat16.h has the rule for ties, subnormals, NaN and overflow); the receiver
// widens it back to float32 exactly. Values that are bf16 values already (a run with
// `cluster.wire: bf16` rounds before it sends) cross unchanged, bit for bit.
//
// Any path that moves gradients or weights (results and weights today; shard servers
// later) calls this codec, so every one rounds the same way.

import CKernels

public enum BFloat16Codec {
    /// Bytes per value on the wire.
    public static let bytesPerValue = 2

    /// The frame of `values`: each rounded to the nearest bf16 (ties to even), 2 bytes
    /// little-endian, in order.
    public static func narrow(_ values: [Float]) -> [UInt8] {
        values.withUnsafeBufferPointer { narrow($0) }
    }

    /// The same for a buffer (a slice of a larger array: one shard of a parameter vector).
    public static func narrow(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 2 * values.count) { out, initialized in
            if let src = values.baseAddress, !values.isEmpty {
                let dst = UnsafeMutableRawPointer(out.baseAddress!).bindMemory(to: UInt16.self, capacity: values.count)
                loom_bf16_narrow(dst, src, values.count)
            }
            initialized = 2 * values.count
        }
    }

    /// The float32 values of a bf16 frame whose size the caller has checked is even.
    public static func widen(_ frame: [UInt8]) -> [Float] {
        let count = frame.count / 2
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            frame.withUnsafeBytes { raw in
                if count > 0, let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<UInt16>.alignment == 0 {
                    // An array's storage is aligned (always, in practice): widen in one pass.
                    loom_bf16_widen(out.baseAddress!, base.assumingMemoryBound(to: UInt16.self), count)
                } else if count > 0 {
                    // Frames carry no alignment guarantee: copy the halves to an aligned buffer.
                    let halves = [UInt16](unsafeUninitializedCapacity: count) { h, n in
                        UnsafeMutableRawBufferPointer(h).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(2 * count)]))
                        n = count
                    }
                    halves.withUnsafeBufferPointer { loom_bf16_widen(out.baseAddress!, $0.baseAddress!, count) }
                }
            }
            initialized = count
        }
    }

    /// values[i] rounded to the nearest bf16 value, kept as float32 (what `widen(narrow(_:))`
    /// gives, without the frame).
    public static func round(_ values: inout [Float]) {
        values.withUnsafeMutableBufferPointer { if let p = $0.baseAddress, !$0.isEmpty { loom_bf16_round(p, $0.count) } }
    }
}
