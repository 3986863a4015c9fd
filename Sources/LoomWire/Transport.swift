/// Identity of a peer as the transport sees it: the ZeroMQ ROUTER routing id of a worker,
/// or `PeerID.coordinator` for the single peer of a worker-side transport.
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    /// Opaque identity bytes.
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The one peer of a connected (worker-side) transport. Empty bytes: ZeroMQ never gives
    /// an empty routing id to a real peer, so it cannot collide with one.
    public static let coordinator = PeerID([])

    /// Short hex for logs: up to 8 bytes, then "…".
    public var description: String {
        if bytes.isEmpty { return "coordinator" }
        let shown = hexDigits(bytes.prefix(8))
        return bytes.count > 8 ? shown + "…" : shown
    }
}

/// Two lowercase hex digits per byte (peer ids in logs, shared-memory tokens).
func hexDigits<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
    bytes.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
}

/// A received multipart message and the peer it came from.
public struct Envelope: Equatable, Sendable {
    public var peer: PeerID
    public var frames: [[UInt8]]
    /// Where the connection comes from, when the transport knows (the peer's IP address
    /// for ZeroMQ over TCP): unlike `peer`, a reconnecting peer cannot choose it anew, so
    /// limits on what one peer may cost (log lines) are kept per address.
    public var peerAddress: String?
    /// The CURVE public key (Z85) the peer's connection proved it holds, when the transport
    /// is a CURVE server (ZeroMQ's "User-Id", set by the ZAP handler); nil otherwise. What a
    /// peer says about its own key in a message can be checked against it.
    public var peerKey: String?

    public init(peer: PeerID, frames: [[UInt8]], peerAddress: String? = nil, peerKey: String? = nil) {
        self.peer = peer
        self.frames = frames
        self.peerAddress = peerAddress
        self.peerKey = peerKey
    }
}

/// Moves multipart messages between the coordinator and its workers.
///
/// Contract every implementation keeps:
/// - `send` never blocks. If the peer is unknown, gone, or its outgoing queue is full, the
///   message is dropped and `send` throws (`.unreachable` / `.queueFull`); the caller
///   decides whether that matters (a dead worker is found by its silence anyway).
/// - Messages to one peer arrive in the order they were sent, whole (all frames or none).
/// - `receive(timeout:)` waits at most `timeout` and returns nil if nothing arrived; frames
///   are returned as received, unvalidated: pass them to `Message.decode`.
/// - A coordinator-side transport has many peers, named by the `PeerID` of the envelopes
///   it receives. A worker-side transport has exactly one, `PeerID.coordinator`.
/// - One transport is used from one thread at a time. After `close()` every call throws
///   `.closed`; `close()` itself may be called more than once.
public protocol Transport: AnyObject {
    /// Where this transport is bound or connected, as logs and workers should name it (the
    /// port chosen for `tcp://host:*`, for one).
    var endpoint: String { get }
    /// Queues `frames` as one message to `peer` without blocking.
    func send(_ frames: [[UInt8]], to peer: PeerID) throws(TransportError)
    /// The next message from any peer, or nil after `timeout`.
    func receive(timeout: Duration) throws(TransportError) -> Envelope?
    /// Releases the sockets; queued outgoing messages get a short grace period (linger).
    func close()
}

extension Transport {
    /// Encodes and sends `message` to `peer`.
    public func send(_ message: Message, to peer: PeerID) throws(TransportError) {
        try send(message.encode(), to: peer)
    }
}

/// Why a transport operation failed. Descriptions name the endpoint and peer.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The transport was closed.
    case closed(endpoint: String)
    /// The peer is not connected (never was, or disconnected); the message was dropped.
    case unreachable(peer: PeerID, endpoint: String)
    /// The peer's queue is full (it is not reading); the message was dropped.
    case queueFull(peer: PeerID, endpoint: String)
    /// The endpoint is not `tcp://host:port` or `ipc://path`.
    case invalidEndpoint(String, reason: String)
    /// A socket call failed: which call, where, and the system's message for `errno`.
    case socket(operation: String, endpoint: String, errno: Int32, message: String)
    /// Setting up CURVE failed (no CURVE support, bad key...).
    case security(SecurityError)

    public var description: String {
        switch self {
        case .closed(let endpoint):
            return "transport \(endpoint) is closed"
        case .unreachable(let peer, let endpoint):
            return "peer \(peer) is not connected to \(endpoint); message dropped"
        case .queueFull(let peer, let endpoint):
            return "send queue to peer \(peer) on \(endpoint) is full; message dropped"
        case .invalidEndpoint(let endpoint, let reason):
            return "invalid endpoint \"\(endpoint)\": \(reason)"
        case .socket(let operation, let endpoint, let errno, let message):
            return "\(operation) on \(endpoint) failed: \(message) (errno \(errno))"
        case .security(let error):
            return error.description
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so that a tiny positive timeout still waits; ≥ 0.
    var roundedUpMilliseconds: Int {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(clamping: millis)
    }
}
