// `FloatValues` reads float32 values where a frame's bytes hold them: the same values and
// bits as the array they were made from, without a copy.

import LoomKernels
import Testing

struct FloatValuesTests {
    /// Bit patterns of every kind: signs, subnormals, zeros, large and small exponents.
    private let floats: [Float] = (0..<1031).map { Float(bitPattern: UInt32(truncatingIfNeeded: $0 &* 2654435761) & 0xFF7F_FFFF) }

    @Test func bytesAreReadInPlaceAsTheFloatsTheyHold() {
        let bytes = floats.withUnsafeBytes { Array($0) }
        let values = FloatValues(littleEndianBytes: bytes)
        #expect(values.count == floats.count)
        #expect(values.withUnsafeBufferPointer { $0.map(\.bitPattern) } == floats.map(\.bitPattern))
        #expect(values.array.map(\.bitPattern) == floats.map(\.bitPattern))
        #expect(values.array(100..<300).map(\.bitPattern) == floats[100..<300].map(\.bitPattern))
        // Read where they lie: the buffer is the frame's own storage, and the bytes given
        // back are the frame itself.
        let base = bytes.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(values.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == base)
        #expect(values.littleEndianBytes.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } == base)
    }

    @Test func anArrayAndItsBytesAreEqualAndGiveTheSameBytes() {
        let fromArray = FloatValues(floats)
        let fromBytes = FloatValues(littleEndianBytes: floats.withUnsafeBytes { Array($0) })
        #expect(fromArray == fromBytes)
        #expect(fromArray.littleEndianBytes == fromBytes.littleEndianBytes)
        #expect(fromArray != FloatValues(Array(floats.dropLast())))
        #expect(FloatValues([1, 2, 3]) == [1, 2, 3] && FloatValues([]).isEmpty)
    }
}
