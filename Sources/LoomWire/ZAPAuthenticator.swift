// The ZAP handler (ZeroMQ RFC 27) of a CURVE server, plus a socket monitor for handshakes
// that fail before ZAP is asked (a plaintext client, a client with the wrong server key).
//
// Without a ZAP handler, a CURVE server admits every client that knows the server's public
// key. With ZMQ_ZAP_DOMAIN set, libzmq asks the REP socket bound at inproc://zeromq.zap.01
// in the same context about every CURVE handshake; we answer 200 only for allow-listed keys.

import CZeroMQ
import Foundation

final class ZAPAuthenticator: @unchecked Sendable {
    static let zapEndpoint = "inproc://zeromq.zap.01"
    /// The ZAP domain the server socket sets; libzmq only consults ZAP when one is set.
    static let domain = "loom"

    private let zap: ZeroMQSocket
    private let monitor: ZeroMQSocket
    /// The allow-list; a shard server's changes when its coordinator hands it one
    /// (`authorize`), read by the handler thread under `keysChanged`'s lock.
    private var allowed: Set<String>
    private let keysChanged = NSCondition()
    /// How long a handshake waits while the allow-list is empty: a shard server's is until
    /// its coordinator's `state` is read, which may come just after the first worker's
    /// handshake (two processes, two sockets); within the handshake's own time limit.
    static let emptyListWait: TimeInterval = 2
    private let onEvent: (@Sendable (AuthEvent) -> Void)?
    private let finished = DispatchSemaphore(value: 0)

    /// Binds the ZAP socket in `context` and attaches a monitor to `server`; call before
    /// `server` binds, so no handshake is missed. Starts the handler thread.
    init(context: UnsafeMutableRawPointer, server: ZeroMQSocket, allowedKeys: Set<String>,
         onEvent: (@Sendable (AuthEvent) -> Void)?) throws(TransportError) {
        allowed = allowedKeys
        self.onEvent = onEvent
        zap = try ZeroMQSocket(context: context, type: ZMQ_REP, endpoint: Self.zapEndpoint)
        try zap.set(ZMQ_LINGER, Int32(0), "ZMQ_LINGER")
        try zap.bind(Self.zapEndpoint)
        // One monitor endpoint per socket: the handle's address makes it unique in the process.
        let monitorEndpoint = "inproc://loom-monitor-\(UInt(bitPattern: server.handle))"
        let failures = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        guard zmq_socket_monitor(server.handle, monitorEndpoint, failures) == 0 else {
            throw ZeroMQSocket.error("zmq_socket_monitor", server.endpoint)
        }
        monitor = try ZeroMQSocket(context: context, type: ZMQ_PAIR, endpoint: monitorEndpoint)
        try monitor.set(ZMQ_LINGER, Int32(0), "ZMQ_LINGER")
        try monitor.connect(monitorEndpoint)
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "loom-zap"
        thread.start()
    }

    /// Replaces the allow-list: handshakes from now on are checked against `keys`.
    func authorize(_ keys: Set<String>) {
        keysChanged.lock()
        allowed = keys
        keysChanged.broadcast()
        keysChanged.unlock()
    }

    /// Whether `key` is allowed; while the list is empty, waits for one up to `emptyListWait`.
    private func isAllowed(_ key: String) -> Bool {
        keysChanged.lock()
        defer { keysChanged.unlock() }
        let deadline = Date(timeIntervalSinceNow: Self.emptyListWait)
        while allowed.isEmpty && keysChanged.wait(until: deadline) {}
        return allowed.contains(key)
    }

    /// Blocks until the handler thread has exited; call after `zmq_ctx_shutdown`, which
    /// makes its poll fail with ETERM.
    func waitUntilStopped() {
        finished.wait()
    }

    private func run() {
        defer {
            zap.close()
            monitor.close()
        }
        var items = [
            zmq_pollitem_t(socket: zap.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
            zmq_pollitem_t(socket: monitor.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
        ]
        while true {
            let rc = zmq_poll(&items, 2, -1)
            if rc < 0 {
                if zmq_errno() == EINTR { continue }
                return  // ETERM: the transport is closing
            }
            do {
                if items[0].revents & Int16(ZMQ_POLLIN) != 0, let request = try zap.receiveNow() {
                    let reply = answer(request)
                    _ = try zap.send(reply)
                }
                if items[1].revents & Int16(ZMQ_POLLIN) != 0, let event = try monitor.receiveNow() {
                    report(monitorEvent: event)
                }
            } catch {
                return
            }
        }
    }

    /// RFC 27 request: version, request id, domain, address, routing id, mechanism,
    /// credentials... Reply: version, request id, status code, status text, user id, metadata.
    private func answer(_ request: [[UInt8]]) -> [[UInt8]] {
        func reply(_ id: [UInt8], _ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), id, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard request.count >= 6, String(decoding: request[0], as: UTF8.self) == "1.0" else {
            return reply(request.count > 1 ? request[1] : [], "500", "malformed ZAP request")
        }
        let id = request[1]
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        guard mechanism == "CURVE", request.count >= 7, let key = CurveKeyPair.encodeZ85(request[6]) else {
            emit(AuthEvent(accepted: false, clientPublicKey: nil, address: address,
                           reason: "mechanism \(mechanism) is not CURVE"))
            return reply(id, "400", "CURVE required")
        }
        if isAllowed(key) {
            emit(AuthEvent(accepted: true, clientPublicKey: key, address: address, reason: "authorized key"))
            return reply(id, "200", "OK", user: key)
        }
        emit(AuthEvent(accepted: false, clientPublicKey: key, address: address, reason: "key not in the allow-list"))
        return reply(id, "400", "key not authorized")
    }

    /// Monitor event: frame 1 = u16 event + u32 value (host order), frame 2 = endpoint.
    private func report(monitorEvent frames: [[UInt8]]) {
        guard frames.count >= 2, frames[0].count == 6 else { return }
        let event = UInt16(frames[0][0]) | UInt16(frames[0][1]) << 8
        let value = frames[0][2...5].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard Int32(event) & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0 else { return }
        let detail = value == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            ? "security mechanism mismatch (a client without CURVE?)"
            : value == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
            ? "cryptographic error (a client with the wrong server key?)"
            : "protocol error 0x\(String(value, radix: 16))"
        emit(AuthEvent(accepted: false, clientPublicKey: nil, address: String(decoding: frames[1], as: UTF8.self),
                       reason: "handshake failed: \(detail)"))
    }

    private func emit(_ event: AuthEvent) {
        onEvent?(event)
    }
}
