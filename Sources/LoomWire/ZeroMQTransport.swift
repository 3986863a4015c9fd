import CZeroMQ
import Foundation

/// Socket options of a `ZeroMQTransport`. Defaults suit a training cluster on a LAN.
public struct ZeroMQOptions: Sendable {
    /// How long `close()` keeps trying to deliver queued messages, milliseconds.
    public var lingerMilliseconds: Int32 = 200
    /// Messages queued per peer and direction before sends fail with `.queueFull`.
    public var highWaterMark: Int32 = 1000
    /// Largest single frame accepted from a peer, bytes; larger ones drop the connection
    /// before the frame is allocated. Matches `WireHeader.maxPayloadBytes`.
    public var maxFrameBytes: Int64 = Int64(WireHeader.maxPayloadBytes)
    /// Worker side: first and longest wait between reconnection attempts, milliseconds.
    public var reconnectMilliseconds: Int32 = 100
    public var reconnectMaxMilliseconds: Int32 = 5000
    /// ZMTP-level heartbeats (below Loom's own): ping interval and the silence after which
    /// the connection is dropped, milliseconds. 0 disables.
    public var heartbeatIntervalMilliseconds: Int32 = 1000
    public var heartbeatTimeoutMilliseconds: Int32 = 10_000
    /// Longest time a connection may take to complete its (CURVE) handshake, milliseconds.
    public var handshakeMilliseconds: Int32 = 5000
    /// Kernel send and receive buffer of each connection (SO_SNDBUF / SO_RCVBUF), bytes;
    /// the kernel caps it at net.core.wmem_max / rmem_max. A weights or result message is
    /// 1.7 MB for the reference CNN: with the usual 208 KiB default it crosses a local
    /// socket in about ten write/wake/read rounds, which `loom bench --workers 2` showed as
    /// a millisecond or more of every step. 0 keeps the operating system's default.
    public var socketBufferBytes: Int32 = 4 << 20

    public init() {}
}

/// One ZeroMQ context (one I/O thread) that several connected transports share: a worker's
/// links to its shard servers. With a context per link, a worker of 8 servers ran 8 I/O
/// threads, each woken for its own socket's messages; one thread serves them all from one
/// `epoll_wait` (docs/SCALING.md, "Where the CPU goes"). The context ends when the last
/// transport made in it is released.
public final class ZeroMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws(TransportError) {
        guard let handle = zmq_ctx_new() else { throw ZeroMQSocket.error("zmq_ctx_new", "(shared context)") }
        self.handle = handle
    }

    deinit {
        zmq_ctx_shutdown(handle)
        zmq_ctx_term(handle)
    }
}

/// `Transport` over ZeroMQ: a ROUTER bound by the coordinator, DEALERs connected by workers.
/// Each transport owns its ZeroMQ context (so a CURVE server's ZAP handler lives in it),
/// unless it is connected in a shared `ZeroMQContext`.
/// Endpoints: `tcp://host:port` (port `*` picks a free one; see `endpoint`) and `ipc://path`.
public final class ZeroMQTransport: Transport {
    /// Which side of the star this transport is.
    public enum Role: Sendable { case coordinator, worker }

    public let role: Role
    /// The endpoint as resolved by ZeroMQ (e.g. the port chosen for `tcp://127.0.0.1:*`).
    public let endpoint: String

    private let context: UnsafeMutableRawPointer
    /// The shared context this transport was made in (nil: it owns `context`).
    private let shared: ZeroMQContext?
    private let socket: ZeroMQSocket
    private let authenticator: ZAPAuthenticator?
    /// Worker side with CURVE: hears refused handshakes (`onHandshakeFailure`).
    private let handshakes: HandshakeMonitor?
    private let onHandshakeFailure: (@Sendable (String) -> Void)?
    private var isClosed = false

    /// The coordinator side: a ROUTER bound at `endpoint`.
    ///
    /// With `.curveServer`, only clients whose key is in the allow-list get through;
    /// `onAuthenticationEvent` hears every decision (called on a background thread).
    public static func bind(endpoint: String, security: Security = .none, options: ZeroMQOptions = .init(),
                            onAuthenticationEvent: (@Sendable (AuthEvent) -> Void)? = nil)
        throws(TransportError) -> ZeroMQTransport {
        try ZeroMQTransport(role: .coordinator, endpoint: bindable(endpoint), security: security, identity: nil,
                            options: options, onAuthenticationEvent: onAuthenticationEvent)
    }

    /// `endpoint` as ZeroMQ can bind it: its tcp bind takes an interface or an address, not
    /// a host name, and `tcp://localhost:P` failed with ENODEV although it is loopback.
    /// It becomes `tcp://127.0.0.1:P`; every other endpoint is left as it is.
    static func bindable(_ endpoint: String) -> String {
        let prefix = "tcp://localhost:"
        guard endpoint.lowercased().hasPrefix(prefix) else { return endpoint }
        return "tcp://127.0.0.1:" + endpoint.dropFirst(prefix.count)
    }

    /// The worker side: a DEALER connecting to `endpoint`, reconnecting on its own when
    /// the connection drops. Its one peer is `PeerID.coordinator`. `identity` fixes the
    /// routing id the coordinator sees (default: chosen by ZeroMQ per connection).
    ///
    /// With `.curveClient`, `onHandshakeFailure` hears each failed handshake (a key the
    /// coordinator does not allow, a wrong server key...), called from `receive`; `peer`
    /// names the other side in those sentences.
    public static func connect(endpoint: String, security: Security = .none, identity: [UInt8]? = nil,
                               options: ZeroMQOptions = .init(), in shared: ZeroMQContext? = nil,
                               onHandshakeFailure: (@Sendable (String) -> Void)? = nil,
                               peer: HandshakePeer = .coordinator) throws(TransportError) -> ZeroMQTransport {
        try ZeroMQTransport(role: .worker, endpoint: endpoint, security: security, identity: identity,
                            options: options, onAuthenticationEvent: nil, onHandshakeFailure: onHandshakeFailure, shared: shared,
                            peer: peer)
    }

    private init(role: Role, endpoint: String, security: Security, identity: [UInt8]?, options: ZeroMQOptions,
                 onAuthenticationEvent: (@Sendable (AuthEvent) -> Void)?,
                 onHandshakeFailure: (@Sendable (String) -> Void)? = nil, shared: ZeroMQContext? = nil,
                 peer: HandshakePeer = .coordinator) throws(TransportError) {
        guard endpoint.hasPrefix("tcp://") || endpoint.hasPrefix("ipc://") else {
            throw .invalidEndpoint(endpoint, reason: "only tcp:// and ipc:// are supported")
        }
        if let identity, identity.isEmpty || identity.count > 255 || identity[0] == 0 {
            throw .invalidEndpoint(endpoint, reason: "identity must be 1...255 bytes and not start with a zero byte")
        }
        guard let context = shared?.handle ?? zmq_ctx_new() else { throw ZeroMQSocket.error("zmq_ctx_new", endpoint) }
        var socket: ZeroMQSocket?
        var authenticator: ZAPAuthenticator?
        var handshakes: HandshakeMonitor?
        do {
            let s = try ZeroMQSocket(context: context, type: role == .coordinator ? ZMQ_ROUTER : ZMQ_DEALER, endpoint: endpoint)
            socket = s
            try Self.configure(s, role: role, identity: identity, options: options)
            try Self.apply(security, to: s, role: role)
            if case .curveServer(_, let allowed) = security {
                authenticator = try ZAPAuthenticator(context: context, server: s, allowedKeys: allowed,
                                                     onEvent: onAuthenticationEvent)
            }
            if role == .coordinator {
                try s.bind(endpoint)
                s.endpoint = s.getString(ZMQ_LAST_ENDPOINT) ?? endpoint
            } else {
                if case .curveClient = security, onHandshakeFailure != nil {
                    handshakes = try HandshakeMonitor(context: context, watching: s, peer: peer)
                }
                try s.connect(endpoint)
            }
        } catch {
            handshakes?.close()
            socket?.close()
            if shared == nil {
                zmq_ctx_shutdown(context)
                authenticator?.waitUntilStopped()
                zmq_ctx_term(context)
            }
            throw error
        }
        self.role = role
        self.context = context
        self.shared = shared
        self.socket = socket!
        self.authenticator = authenticator
        self.handshakes = handshakes
        self.onHandshakeFailure = onHandshakeFailure
        self.endpoint = socket!.endpoint
    }

    deinit { close() }

    /// The libzmq socket while open, for `TransportWait` (nil once closed).
    var openHandle: UnsafeMutableRawPointer? { isClosed ? nil : socket.handle }

    private static func configure(_ s: ZeroMQSocket, role: Role, identity: [UInt8]?, options: ZeroMQOptions) throws(TransportError) {
        try s.set(ZMQ_LINGER, options.lingerMilliseconds, "ZMQ_LINGER")
        if options.socketBufferBytes > 0 {
            try s.set(ZMQ_SNDBUF, options.socketBufferBytes, "ZMQ_SNDBUF")
            try s.set(ZMQ_RCVBUF, options.socketBufferBytes, "ZMQ_RCVBUF")
        }
        try s.set(ZMQ_SNDHWM, options.highWaterMark, "ZMQ_SNDHWM")
        try s.set(ZMQ_RCVHWM, options.highWaterMark, "ZMQ_RCVHWM")
        try s.set(ZMQ_MAXMSGSIZE, options.maxFrameBytes, "ZMQ_MAXMSGSIZE")
        try s.set(ZMQ_HANDSHAKE_IVL, options.handshakeMilliseconds, "ZMQ_HANDSHAKE_IVL")
        if options.heartbeatIntervalMilliseconds > 0 {
            try s.set(ZMQ_HEARTBEAT_IVL, options.heartbeatIntervalMilliseconds, "ZMQ_HEARTBEAT_IVL")
            try s.set(ZMQ_HEARTBEAT_TIMEOUT, options.heartbeatTimeoutMilliseconds, "ZMQ_HEARTBEAT_TIMEOUT")
        }
        switch role {
        case .coordinator:
            // Sends to an unknown or departed worker fail (EHOSTUNREACH) instead of vanishing.
            try s.set(ZMQ_ROUTER_MANDATORY, Int32(1), "ZMQ_ROUTER_MANDATORY")
            // A worker reconnecting with a fixed identity replaces its stale connection.
            try s.set(ZMQ_ROUTER_HANDOVER, Int32(1), "ZMQ_ROUTER_HANDOVER")
        case .worker:
            try s.set(ZMQ_RECONNECT_IVL, options.reconnectMilliseconds, "ZMQ_RECONNECT_IVL")
            try s.set(ZMQ_RECONNECT_IVL_MAX, options.reconnectMaxMilliseconds, "ZMQ_RECONNECT_IVL_MAX")
            if let identity { try s.set(ZMQ_ROUTING_ID, bytes: identity, "ZMQ_ROUTING_ID") }
        }
    }

    private static func apply(_ security: Security, to s: ZeroMQSocket, role: Role) throws(TransportError) {
        switch (security, role) {
        case (.none, _):
            return
        case (.curveServer(let keys, _), .coordinator):
            do { try CurveKeyPair.requireCurve() } catch { throw .security(error) }
            try s.set(ZMQ_CURVE_SERVER, Int32(1), "ZMQ_CURVE_SERVER")
            try s.set(ZMQ_CURVE_SECRETKEY, string: keys.secretKey, "ZMQ_CURVE_SECRETKEY")
            try s.set(ZMQ_ZAP_DOMAIN, string: ZAPAuthenticator.domain, "ZMQ_ZAP_DOMAIN")
        case (.curveClient(let keys, let serverKey), .worker):
            do {
                try CurveKeyPair.requireCurve()
                try CurveKeyPair.validateZ85(serverKey, what: "server public key")
            } catch { throw .security(error) }
            try s.set(ZMQ_CURVE_SERVERKEY, string: serverKey, "ZMQ_CURVE_SERVERKEY")
            try s.set(ZMQ_CURVE_PUBLICKEY, string: keys.publicKey, "ZMQ_CURVE_PUBLICKEY")
            try s.set(ZMQ_CURVE_SECRETKEY, string: keys.secretKey, "ZMQ_CURVE_SECRETKEY")
        case (.curveServer, .worker):
            throw .security(.wrongRole("a worker (connect) cannot be a CURVE server; use .curveClient"))
        case (.curveClient, .coordinator):
            throw .security(.wrongRole("a coordinator (bind) cannot be a CURVE client; use .curveServer"))
        }
    }

    // MARK: - Transport

    public func send(_ frames: [[UInt8]], to peer: PeerID) throws(TransportError) {
        guard !isClosed else { throw .closed(endpoint: endpoint) }
        let outcome: SendOutcome
        switch role {
        case .coordinator:
            guard !peer.bytes.isEmpty else { throw .unreachable(peer: peer, endpoint: endpoint) }
            outcome = try socket.send([peer.bytes] + frames)
        case .worker:
            guard peer == .coordinator else { throw .unreachable(peer: peer, endpoint: endpoint) }
            outcome = try socket.send(frames)
        }
        switch outcome {
        case .sent: return
        case .wouldBlock: throw .queueFull(peer: peer, endpoint: endpoint)
        case .unreachable: throw .unreachable(peer: peer, endpoint: endpoint)
        }
    }

    public func receive(timeout: Duration) throws(TransportError) -> Envelope? {
        guard !isClosed else { throw .closed(endpoint: endpoint) }
        let deadline = ContinuousClock.now + timeout
        if let handshakes, let onHandshakeFailure {
            for failure in handshakes.failures() { onHandshakeFailure(failure) }
        }
        while true {
            if let (frames, address, key) = try socket.receiveNowWithAddress() {
                switch role {
                case .worker:
                    return Envelope(peer: .coordinator, frames: frames, peerAddress: address)
                case .coordinator:
                    // A ROUTER always prepends the routing id; guard anyway.
                    guard frames.count >= 1 else { continue }
                    return Envelope(peer: PeerID(frames[0]), frames: Array(frames.dropFirst()), peerAddress: address,
                                    peerKey: key)
                }
            }
            let remaining = (deadline - ContinuousClock.now).roundedUpMilliseconds
            if remaining <= 0 { return nil }
            _ = try socket.poll(milliseconds: remaining)
        }
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        handshakes?.close()
        socket.close()
        // A shared context ends with its last transport (`ZeroMQContext`).
        guard shared == nil else { return }
        // Shutting the context down wakes the ZAP thread (ETERM) so that it closes its sockets.
        zmq_ctx_shutdown(context)
        authenticator?.waitUntilStopped()
        zmq_ctx_term(context)
    }
}

extension ZeroMQTransport: ClientAuthorizing {
    /// A CURVE server's allow-list, replaced: the handshakes from now on are checked against
    /// `keys` (connections already admitted stay).
    @discardableResult
    public func authorizeClients(_ keys: Set<String>) -> Bool {
        guard let authenticator else { return false }
        authenticator.authorize(keys)
        return true
    }
}
