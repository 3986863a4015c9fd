// bfloat16 rounding (CKernelsBFloat16.h): round to nearest, ties to even, NaN kept a NaN,
// overflow to ±Inf, subnormals like any value; the 8-lane body and the scalar tail agree.

import CKernels
import LoomKernels
import LoomTestSupport
import Testing

@Suite struct BFloat16Tests {
    /// The bf16 bits of `bits` by the definition: the nearer of the two bf16 neighbours,
    /// the even one on a tie, computed in Double (exact for float32 values and their halves).
    static func reference(_ bits: UInt32) -> UInt16 {
        let x = Float(bitPattern: bits)
        if x.isNaN { return UInt16(bits >> 16) | 0x0040 }
        if x.isInfinite { return UInt16(bits >> 16) }
        let low = bits & 0xFFFF_0000                       // toward zero
        let high = low &+ 0x0001_0000                       // away from zero (may be Inf's bits)
        let a = Double(Float(bitPattern: low)).magnitude
        // The neighbour away from zero, in Double: past the largest float it is 2^128.
        let b = high & 0x7FFF_FFFF >= 0x7F80_0000 ? 0x1p128 : Double(Float(bitPattern: high)).magnitude
        let m = Double(x).magnitude
        let pick: UInt32
        if m - a < b - m { pick = low } else if m - a > b - m { pick = high } else { pick = (low >> 16) & 1 == 0 ? low : high }
        return UInt16(pick >> 16)
    }

    static func narrow(_ bits: [UInt32]) -> [UInt16] {
        let x = bits.map { Float(bitPattern: $0) }
        var out = [UInt16](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xs in out.withUnsafeMutableBufferPointer { loom_bf16_narrow($0.baseAddress!, xs.baseAddress!, xs.count) } }
        return out
    }

    @Test func tiesGoToTheEvenNeighbour() {
        // 1 + 2^-8 lies halfway between 1 (0x3F80, even) and 1 + 2^-7 (0x3F81): down.
        // 1 + 3·2^-8 lies halfway between 0x3F81 (odd) and 0x3F82: up.
        #expect(Self.narrow([0x3F80_8000, 0x3F81_8000, 0xBF80_8000, 0xBF81_8000]) == [0x3F80, 0x3F82, 0xBF80, 0xBF82])
        // Just off the tie goes to the nearer one.
        #expect(Self.narrow([0x3F80_8001, 0x3F81_7FFF, 0x3F80_7FFF]) == [0x3F81, 0x3F81, 0x3F80])
    }

    @Test func subnormalsRoundLikeAnyValue() {
        // Smallest subnormals: below half of 2^-133 goes to zero, a tie to even (zero), above up.
        #expect(Self.narrow([0x0000_0001, 0x0000_8000, 0x0000_8001, 0x0001_8000, 0x8000_8001]) == [0x0000, 0x0000, 0x0001, 0x0002, 0x8001])
        // The largest subnormal rounds up to the smallest normal.
        #expect(Self.narrow([0x007F_FFFF]) == [0x0080])
    }

    @Test func overflowGoesToInfinityAndInfinityStays() {
        // Largest float, and the largest bf16 plus half its last place (a tie, odd: up): Inf.
        #expect(Self.narrow([0x7F7F_FFFF, 0x7F7F_8000, 0xFF7F_8000]) == [0x7F80, 0x7F80, 0xFF80])
        // Just under half a place above the largest bf16 stays finite.
        #expect(Self.narrow([0x7F7F_7FFF]) == [0x7F7F])
        #expect(Self.narrow([0x7F80_0000, 0xFF80_0000]) == [0x7F80, 0xFF80])
    }

    @Test func aNaNStaysANaNWithItsSign() {
        // A NaN whose payload is only in the dropped half would truncate to Inf: it must not.
        let nans: [UInt32] = [0x7F80_0001, 0xFF80_0001, 0x7FC0_0000, 0x7F81_FFFF, 0xFFFF_FFFF]
        let out = Self.narrow(nans)
        for (bits, h) in zip(nans, out) {
            let widened = Float(bitPattern: UInt32(h) << 16)
            #expect(widened.isNaN, "\(String(bits, radix: 16)) -> \(String(h, radix: 16))")
            #expect(h & 0x8000 == UInt16(bits >> 16) & 0x8000)
        }
        var x = nans.map { Float(bitPattern: $0) }
        BFloat16.round(&x)
        #expect(x.allSatisfy { $0.isNaN })
    }

    @Test func randomBitsMatchTheDefinitionOnEveryPathAndLength() {
        var random = TestRandom(seed: 20)
        // Random bit patterns cover every exponent (subnormals, NaNs, Inf) and both signs;
        // odd lengths exercise the scalar tail after the 8-lane body.
        for count in [1, 7, 8, 9, 63, 4099] {
            let bits = (0..<count).map { _ in UInt32(truncatingIfNeeded: random.next()) }
            let expected = bits.map(Self.reference)
            #expect(Self.narrow(bits) == expected, "\(count) values")
            var x = bits.map { Float(bitPattern: $0) }
            BFloat16.round(&x)
            let rounded = x.map { UInt16($0.bitPattern >> 16) }
            #expect(rounded == expected && x.allSatisfy { $0.bitPattern & 0xFFFF == 0 })
            // Widening is exact and rounding is idempotent.
            var widened = [Float](repeating: 0, count: count)
            expected.withUnsafeBufferPointer { h in widened.withUnsafeMutableBufferPointer { loom_bf16_widen($0.baseAddress!, h.baseAddress!, count) } }
            #expect(widened.map(\.bitPattern) == x.map(\.bitPattern))
            let again = BFloat16.rounded(x)
            #expect(again.map(\.bitPattern) == x.map(\.bitPattern))
            #expect(BFloat16.isExact(x))
        }
    }

    @Test func exactnessSeesOneStrayLowBit() {
        var x = [Float](repeating: 1, count: 37)
        #expect(BFloat16.isExact(x))
        for i in [0, 20, 36] {
            x[i] = Float(bitPattern: x[i].bitPattern | 1)
            #expect(!BFloat16.isExact(x), "index \(i)")
            x[i] = 1
        }
    }
}
