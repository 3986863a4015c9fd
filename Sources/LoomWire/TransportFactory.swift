// The one place a process makes its transports: from an endpoint and the security settings.
// Callers see only `Transport`; which library moves the bytes (ZeroMQ today) stays here.

/// Makes the coordinator's (bound) and the workers' (connected) transports.
public struct TransportFactory: Sendable {
    /// CURVE server keys and allow-list for `bind`, client keys for `connect`, or `.none`.
    public var security: Security

    public init(security: Security = .none) { self.security = security }

    /// The coordinator's side, bound at `endpoint` (`tcp://host:port`, port `*` for a free
    /// one; `ipc://path`). Its `endpoint` is the address bound. `onAuthenticationEvent`
    /// hears every CURVE decision (on a background thread).
    public func bind(_ endpoint: String, onAuthenticationEvent: (@Sendable (AuthEvent) -> Void)? = nil)
        throws(TransportError) -> any Transport {
        try ZeroMQTransport.bind(endpoint: endpoint, security: security, onAuthenticationEvent: onAuthenticationEvent)
    }

    /// A worker's side, connecting to `endpoint` and reconnecting on its own when the
    /// connection drops; its one peer is `PeerID.coordinator`.
    /// With CURVE, `onHandshakeFailure` hears each refused or failed handshake (libzmq
    /// retries by itself; without it a refused worker waits in silence).
    public func connect(_ endpoint: String,
                        onHandshakeFailure: (@Sendable (String) -> Void)? = nil) throws(TransportError) -> any Transport {
        try ZeroMQTransport.connect(endpoint: endpoint, security: security, onHandshakeFailure: onHandshakeFailure)
    }

    /// `connect` in `context`, which other transports share (one I/O thread for all): a
    /// worker's links to its shard servers. With CURVE, `onHandshakeFailure` hears each
    /// failed handshake with the server (a key it does not admit, an impersonator).
    public func connect(_ endpoint: String, in context: ZeroMQContext,
                        onHandshakeFailure: (@Sendable (String) -> Void)? = nil) throws(TransportError) -> any Transport {
        try ZeroMQTransport.connect(endpoint: endpoint, security: security, in: context,
                                    onHandshakeFailure: onHandshakeFailure, peer: .shardServer)
    }

    /// A fresh `ipc://` endpoint in /tmp for a coordinator and its local workers, and the
    /// socket file to remove when done.
    public static func localEndpoint(tag: String) -> (endpoint: String, file: String) {
        let file = "/tmp/loom-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        return ("ipc://" + file, file)
    }
}

#if canImport(Glibc)
import Glibc
#endif
