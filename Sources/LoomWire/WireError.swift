/// Why a received message was rejected by `Message.decode`. Each case is one rule of
/// docs/PROTOCOL.md ("Validation rules"); the description names the rule, the message
/// type when known, the frame and the offending numbers. The caller adds the peer.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// R1: a message has at least the header frame.
    case noFrames
    /// R1: the header frame is exactly `WireHeader.size` bytes.
    case headerSize(actual: Int)
    /// R2: the header starts with "LOOM".
    case badMagic([UInt8])
    /// R3: the protocol version is the one this build speaks.
    case unsupportedVersion(UInt16)
    /// R4: the type byte is a known `MessageType`.
    case unknownType(UInt8)
    /// R5: reserved header bytes are zero; the flags byte holds at most the `shared` bit,
    /// and that only on assignment, weights and result.
    case nonZeroReserved(type: MessageType, offset: Int)
    /// R6: the run id is the expected one; a hello carries zero, a welcome non-zero.
    case runID(type: MessageType, actual: UInt64, rule: String)
    /// R7: the declared payload size is at most `WireHeader.maxPayloadBytes`; checked
    /// before any payload frame is looked at.
    case payloadTooLarge(type: MessageType, declaredBytes: UInt64, limit: UInt64)
    /// R8: the header's payload frame count matches the frames received and the type.
    case frameCount(type: MessageType, declared: Int, received: Int, required: Int)
    /// R9: the declared payload size equals the sum of the payload frames' sizes.
    case payloadSizeMismatch(type: MessageType, declaredBytes: UInt64, receivedBytes: UInt64)
    /// R10: the micro-shard range is non-empty for assignment/result, empty otherwise,
    /// and does not overflow UInt32.
    case shardRange(type: MessageType, first: UInt32, count: UInt32, rule: String)
    /// R11: a payload frame's size agrees with its element type and with the other frames.
    case frameSize(type: MessageType, frame: String, bytes: Int, rule: String)
    /// R12: float payloads are finite (ARCHITECTURE.md, invariant 4). For a result this means
    /// the worker computed a NaN/Inf gradient at `step`: the coordinator asks another worker
    /// to compute the block, which tells an honest divergence from a broken worker.
    case nonFinite(type: MessageType, frame: String, index: Int, step: UInt64,
                   firstShard: UInt32, shardCount: UInt32)
    /// R13: a JSON body is well-formed UTF-8 JSON with every required field, of the right
    /// type and in range.
    case json(type: MessageType, rule: String)
    /// R14: with the `shared` flag, the shared array's frame is a well-formed `SharedSlot`.
    case sharedSlot(type: MessageType, frame: String, rule: String)

    public var description: String {
        switch self {
        case .noFrames:
            return "message has no frames (R1: a header frame is required)"
        case .headerSize(let actual):
            return "header frame is \(actual) bytes, expected \(WireHeader.size) (R1)"
        case .badMagic(let bytes):
            return "header magic is \(bytes.map { String($0, radix: 16) }) not \"LOOM\" (R2)"
        case .unsupportedVersion(let version):
            return "protocol version \(version) is not supported; this build speaks \(WireHeader.protocolVersion) (R3)"
        case .unknownType(let byte):
            return "unknown message type \(byte) (R4)"
        case .nonZeroReserved(let type, let offset):
            return offset == 7 ? "\(type): header flags byte has a bit this message type may not carry (R5)"
                : "\(type): header byte \(offset) (reserved) is not zero (R5)"
        case .runID(let type, let actual, let rule):
            return "\(type): run id \(hex(actual)): \(rule) (R6)"
        case .payloadTooLarge(let type, let declared, let limit):
            return "\(type): header claims a payload of \(declared) bytes, the limit is \(limit) (R7)"
        case .frameCount(let type, let declared, let received, let required):
            return "\(type): header declares \(declared) payload frames, received \(received), the type requires \(required) (R8)"
        case .payloadSizeMismatch(let type, let declared, let received):
            return "\(type): header claims \(declared) payload bytes, frames hold \(received) (R9)"
        case .shardRange(let type, let first, let count, let rule):
            return "\(type): micro-shard range first=\(first) count=\(count): \(rule) (R10)"
        case .frameSize(let type, let frame, let bytes, let rule):
            return "\(type): frame \(frame) (\(bytes) bytes): \(rule) (R11)"
        case .nonFinite(let type, let frame, let index, let step, let first, let count):
            return "\(type): frame \(frame) element \(index) is NaN or infinite (step \(step), micro-shards \(first)..<\(UInt64(first) + UInt64(count))) (R12)"
        case .json(let type, let rule):
            return "\(type): JSON body: \(rule) (R13)"
        case .sharedSlot(let type, let frame, let rule):
            return "\(type): frame \(frame): \(rule) (R14)"
        }
    }
}

func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits
}
