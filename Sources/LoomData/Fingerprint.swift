// A dataset's content hash. Workers report it in their hello and checkpoints store it, so a run
// never mixes two different datasets under one name. 64-bit FNV-1a (Fowler, Noll, Vo):
// simple, streaming, and the same on every platform; collisions only need to be unlikely
// between honest datasets, not resistant to attack.

/// Streaming 64-bit FNV-1a over the bytes of a dataset, printed as 16 hex digits.
public struct Fingerprint: Sendable {
    private static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01b3

    public private(set) var value: UInt64 = Fingerprint.offsetBasis

    public init() {}

    /// Hashes `bytes` in order.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes { h = (h ^ UInt64(b)) &* Fingerprint.prime }
        value = h
    }

    public mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { add($0) }
    }

    /// Hashes `values` as little-endian int32 bytes (the on-disk label type).
    public mutating func add(_ values: [Int32]) {
        let le = values.map { $0.littleEndian }
        le.withUnsafeBytes { add($0) }
    }

    /// Hashes a name (UTF-8) followed by a 0 byte, so ("ab","c") != ("a","bc").
    public mutating func add(name: String) {
        add(Array(name.utf8) + [0])
    }

    /// 16 lowercase hex digits.
    public var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
