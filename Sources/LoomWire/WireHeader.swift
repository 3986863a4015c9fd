/// The fixed 64-byte little-endian header frame that starts every Loom message.
///
/// ```
/// offset size field
///  0     4    magic "LOOM"
///  4     2    protocol version (u16) = 3
///  6     1    message type (u8, MessageType)
///  7     1    flags (u8): bit 0 `shared` (assignment, weights, result), bit 1 `tta`
///                (evaluate), bit 2 `bf16` (weights, result, shard); other bits 0
///  8     8    run id (u64)
/// 16     8    step (u64)
/// 24     8    weights version (u64)
/// 32     4    first micro-shard (u32)
/// 36     4    micro-shard count (u32)
/// 40     4    epoch (u32)
/// 44     2    payload frame count (u16)
/// 46     2    reserved = 0
/// 48     8    payload byte count (u64): sum of the sizes of the payload frames
/// 56     8    reserved = 0
/// ```
/// The positions of magic and version are frozen across versions, so that a receiver can
/// always tell "another protocol version" from "garbage".
public struct WireHeader: Equatable, Sendable {
    /// Size of the header frame in bytes.
    public static let size = 64
    /// "LOOM" in ASCII.
    public static let magic: [UInt8] = [0x4C, 0x4F, 0x4F, 0x4D]
    /// The protocol version this build speaks and accepts.
    /// Version 2 added the `shared` flag (shared-memory payloads, R14); version 3 gave
    /// evaluation its own messages (`evaluate`, `evaluation`) instead of assignments and
    /// results with marker epochs.
    public static let protocolVersion: UInt16 = 3
    /// Flags bit 0. On weights and result: the big array (parameters, gradient_sum) is in
    /// the sender's shared region, and its frame holds a `SharedSlot`. On an assignment:
    /// the coordinator asks for the gradient that way.
    public static let sharedFlag: UInt8 = 1
    /// Flags bit 1, on an evaluate request: average the config's test-time views.
    public static let ttaFlag: UInt8 = 2
    /// Flags bit 2, on weights and result without `shared`: the big array (parameters,
    /// gradient_sum) is bfloat16, 2 bytes a value (`BFloat16Codec`); on a shard `gradient`
    /// or `slice`, its values frame. A build that does not know the flag refuses the
    /// message (R5), so a bf16 run never reaches it unnoticed.
    public static let bf16Flag: UInt8 = 4
    /// Upper bound on the payload of one message (1 GiB); larger claims are rejected
    /// before anything is read. The ZeroMQ transport bounds each frame the same way.
    public static let maxPayloadBytes: UInt64 = 1 << 30
    /// Upper bound on a JSON body (1 MiB).
    public static let maxJSONBytes = 1 << 20

    public var type: MessageType
    public var runID: UInt64
    public var step: UInt64
    public var weightsVersion: UInt64
    public var firstShard: UInt32
    public var shardCount: UInt32
    public var epoch: UInt32
    public var payloadFrameCount: UInt16
    public var payloadBytes: UInt64
    public var flags: UInt8
    public var isShared: Bool { flags & Self.sharedFlag != 0 }
    public var isBF16: Bool { flags & Self.bf16Flag != 0 }

    public init(type: MessageType, runID: UInt64 = 0, step: UInt64 = 0, weightsVersion: UInt64 = 0,
                firstShard: UInt32 = 0, shardCount: UInt32 = 0, epoch: UInt32 = 0,
                payloadFrameCount: UInt16 = 0, payloadBytes: UInt64 = 0, flags: UInt8 = 0) {
        self.type = type
        self.flags = flags
        self.runID = runID
        self.step = step
        self.weightsVersion = weightsVersion
        self.firstShard = firstShard
        self.shardCount = shardCount
        self.epoch = epoch
        self.payloadFrameCount = payloadFrameCount
        self.payloadBytes = payloadBytes
    }

    /// The 64 header bytes.
    public func encode() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.size)
        bytes.replaceSubrange(0..<4, with: Self.magic)
        store(Self.protocolVersion, at: 4, in: &bytes)
        bytes[6] = type.rawValue
        bytes[7] = flags
        store(runID, at: 8, in: &bytes)
        store(step, at: 16, in: &bytes)
        store(weightsVersion, at: 24, in: &bytes)
        store(firstShard, at: 32, in: &bytes)
        store(shardCount, at: 36, in: &bytes)
        store(epoch, at: 40, in: &bytes)
        store(payloadFrameCount, at: 44, in: &bytes)
        store(payloadBytes, at: 48, in: &bytes)
        return bytes
    }

    /// Parses a header frame, enforcing rules R1–R5 (size, magic, version, type, flags and
    /// reserved bytes). The remaining rules need the other frames: see `Message.decode`.
    public init(frame: [UInt8]) throws(WireError) {
        guard frame.count == Self.size else { throw .headerSize(actual: frame.count) }
        guard Array(frame[0..<4]) == Self.magic else { throw .badMagic(Array(frame[0..<4])) }
        let version: UInt16 = load(at: 4, from: frame)
        guard version == Self.protocolVersion else { throw .unsupportedVersion(version) }
        guard let type = MessageType(rawValue: frame[6]) else { throw .unknownType(frame[6]) }
        if frame[7] & ~type.allowedFlags != 0 { throw .nonZeroReserved(type: type, offset: 7) }
        // A shared slot holds float32: `bf16` describes a payload in the message only.
        if frame[7] & Self.sharedFlag != 0 && frame[7] & Self.bf16Flag != 0 { throw .nonZeroReserved(type: type, offset: 7) }
        for offset in [46, 47] + Array(56..<64) where frame[offset] != 0 {
            throw .nonZeroReserved(type: type, offset: offset)
        }
        self.type = type
        flags = frame[7]
        runID = load(at: 8, from: frame)
        step = load(at: 16, from: frame)
        weightsVersion = load(at: 24, from: frame)
        firstShard = load(at: 32, from: frame)
        shardCount = load(at: 36, from: frame)
        epoch = load(at: 40, from: frame)
        payloadFrameCount = load(at: 44, from: frame)
        payloadBytes = load(at: 48, from: frame)
    }
}

/// Writes `value` little-endian at `offset`.
func store<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
    var v = value.littleEndian
    withUnsafeBytes(of: &v) { raw in
        for i in 0..<raw.count { bytes[offset + i] = raw[i] }
    }
}

/// Reads a little-endian integer at `offset`; the caller has checked the bounds.
func load<T: FixedWidthInteger>(at offset: Int, from bytes: [UInt8]) -> T {
    var value = T.zero
    withUnsafeMutableBytes(of: &value) { raw in
        for i in 0..<raw.count { raw[i] = bytes[offset + i] }
    }
    return T(littleEndian: value)
}
