// float32 values that may still lie in the bytes they arrived in.
//
// A received message's values frame is an array of bytes; copying it into a `[Float]` costs
// a pass over every byte the host receives, and on the test bed's two cores those passes are
// a share of the step (docs/SCALING.md, "Where the CPU goes on the bed"). `FloatValues`
// reads the floats where the frame holds them. Readers go through `withUnsafeBufferPointer`
// (kernels), or take `array`, which copies only when the values are not already a `[Float]`.
// It is deliberately no Collection: reading it element by element would go through a switch
// and a closure per element, so the one way in is the buffer.

/// Read-only float32 values: a `[Float]`, or the little-endian bytes of a frame read in
/// place. Equal when their elements are (bit patterns aside: `==` of `Float`).
public struct FloatValues: Equatable, Sendable, ExpressibleByArrayLiteral {
    private enum Storage: Sendable {
        case floats([Float])
        /// Bytes whose storage is aligned for `Float` and whose count is a multiple of 4.
        case bytes([UInt8])
    }

    private let storage: Storage
    public let count: Int

    public init(_ values: [Float]) {
        storage = .floats(values)
        count = values.count
    }

    public init(arrayLiteral elements: Float...) { self.init(elements) }

    /// The floats of `bytes` (little-endian float32; `bytes.count` a multiple of 4), read
    /// in place when the array's storage is aligned for `Float`, as a fresh allocation's
    /// always is; copied otherwise.
    public init(littleEndianBytes bytes: [UInt8]) {
        precondition(bytes.count % MemoryLayout<Float>.stride == 0, "FloatValues of \(bytes.count) bytes")
        count = bytes.count / MemoryLayout<Float>.stride
        let aligned = bytes.withUnsafeBytes { raw in
            raw.baseAddress.map { UInt(bitPattern: $0) % UInt(MemoryLayout<Float>.alignment) == 0 } ?? true
        }
        if aligned {
            storage = .bytes(bytes)
        } else {
            let n = count
            storage = .floats([Float](unsafeUninitializedCapacity: n) { out, initialized in
                bytes.withUnsafeBytes { raw in
                    if n > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: 4 * n) }
                }
                initialized = n
            })
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// Calls `body` with the values where they lie (valid only during the call).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        switch storage {
        case .floats(let values):
            return try values.withUnsafeBufferPointer(body)
        case .bytes(let bytes):
            return try bytes.withUnsafeBytes { raw in try raw.withMemoryRebound(to: Float.self, body) }
        }
    }

    /// The values as a `[Float]`: the array itself when they are one, else a copy.
    public var array: [Float] {
        switch storage {
        case .floats(let values):
            return values
        case .bytes:
            return withUnsafeBufferPointer { Array($0) }
        }
    }

    /// Elements `range` as a `[Float]` (a copy, or the array itself when `range` is all of it).
    public func array(_ range: Range<Int>) -> [Float] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "FloatValues range \(range) of \(count)")
        if range == 0..<count { return array }
        return withUnsafeBufferPointer { Array($0[range]) }
    }

    /// The values' little-endian bytes: the frame itself when they came as one.
    public var littleEndianBytes: [UInt8] {
        switch storage {
        case .floats(let values):
            return values.withUnsafeBytes { Array($0) }
        case .bytes(let bytes):
            return bytes
        }
    }

    public static func == (lhs: FloatValues, rhs: FloatValues) -> Bool {
        lhs.count == rhs.count && lhs.withUnsafeBufferPointer { l in rhs.withUnsafeBufferPointer { r in l.elementsEqual(r) } }
    }
}
