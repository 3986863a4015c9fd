// Counting what the coordinator drops (ARCHITECTURE.md, invariant 4: drop, log with the peer, count).

import Logging
import LoomWire

/// Rejected messages by reason. A reason is a short stable key ("bad magic", "stale
/// result"...); `total` is their sum.
public struct RejectCounts: Equatable, Sendable, CustomStringConvertible {
    public private(set) var byReason: [String: Int] = [:]
    public var total: Int { byReason.values.reduce(0, +) }

    public init() {}

    mutating func add(_ reason: String) { byReason[reason, default: 0] += 1 }

    public subscript(reason: String) -> Int { byReason[reason] ?? 0 }

    /// `"7 (bad magic 2, stale result 5)"`.
    public var description: String {
        if byReason.isEmpty { return "0" }
        let parts = byReason.keys.sorted().map { "\($0) \(byReason[$0]!)" }
        return "\(total) (\(parts.joined(separator: ", ")))"
    }

    /// The stable reason key of a decode failure.
    static func reason(_ error: WireError) -> String {
        switch error {
        case .noFrames, .headerSize: return "bad header size"
        case .badMagic: return "bad magic"
        case .unsupportedVersion: return "wrong protocol version"
        case .unknownType: return "unknown type"
        case .nonZeroReserved: return "reserved bytes set"
        case .runID: return "wrong run id"
        case .payloadTooLarge: return "payload too large"
        case .frameCount: return "wrong frame count"
        case .payloadSizeMismatch: return "payload size mismatch"
        case .shardRange: return "bad shard range"
        case .frameSize: return "bad frame size"
        case .nonFinite: return "non-finite values"
        case .json: return "bad json"
        case .sharedSlot: return "bad shared slot"
        }
    }
}
