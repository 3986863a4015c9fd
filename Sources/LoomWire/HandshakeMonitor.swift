// A worker's view of its failed CURVE handshakes. libzmq retries a refused connection by
// itself, every reconnect interval, and says nothing: without this a worker whose key the
// coordinator does not allow waited in silence. A socket monitor on the worker's DEALER
// hears each failure; with ZAP's status code when the coordinator's ZAP handler refused
// (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: libzmq passes the code, not ZAP's status text).

import CZeroMQ

/// Whom a connected socket handshakes with, named in the sentences of its failures.
public enum HandshakePeer: Sendable {
    case coordinator
    /// A shard server, whose key the coordinator's server map gave (docs/CLUSTER.md).
    case shardServer
}

/// Reads the handshake failures of one connected socket; used from the socket's thread.
final class HandshakeMonitor {
    private let socket: ZeroMQSocket
    private let watched: UnsafeMutableRawPointer
    private let peer: HandshakePeer
    private var isClosed = false

    /// Attaches a monitor to `watched` (same `context`) for handshake failures with `peer`.
    init(context: UnsafeMutableRawPointer, watching watched: ZeroMQSocket, peer: HandshakePeer = .coordinator) throws(TransportError) {
        self.peer = peer
        let endpoint = "inproc://loom-handshakes-\(UInt(bitPattern: watched.handle))"
        let events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
            | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
        guard zmq_socket_monitor(watched.handle, endpoint, events) == 0 else {
            throw ZeroMQSocket.error("zmq_socket_monitor", watched.endpoint)
        }
        self.watched = watched.handle
        socket = try ZeroMQSocket(context: context, type: ZMQ_PAIR, endpoint: endpoint)
        try socket.set(ZMQ_LINGER, Int32(0), "ZMQ_LINGER")
        try socket.connect(endpoint)
    }

    /// The failures since the last call, each as one sentence; never blocks.
    func failures() -> [String] {
        var found: [String] = []
        while !isClosed, let frames = try? socket.receiveNow() {
            guard frames.count >= 2, frames[0].count == 6 else { continue }
            let event = Int32(UInt16(frames[0][0]) | UInt16(frames[0][1]) << 8)
            let value = frames[0][2...5].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            found.append(Self.explain(event: event, value: value, endpoint: String(decoding: frames[1], as: UTF8.self), peer: peer))
        }
        return found
    }

    /// One monitor event as a sentence for the log.
    static func explain(event: Int32, value: UInt32, endpoint: String, peer: HandshakePeer = .coordinator) -> String {
        let name = peer == .coordinator ? "the coordinator" : "the shard server"
        switch event {
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            let why: String
            switch value {
            // A shard server's allow-list is its coordinator's: the remedy is the same.
            case 400: why = "this worker's key is not in its allow-list (add this worker's loom.pub to the coordinator's keys/authorized/)"
            case 300: why = "a temporary error of its authenticator"
            case 500: why = "an internal error of its authenticator"
            default: why = "status \(value)"
            }
            return "\(name) at \(endpoint) refused the CURVE handshake (ZAP status \(value)): \(why)"
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            let wrongKey = peer == .coordinator
                ? "is coordinator.pub this coordinator's public key?"
                : "the process at that endpoint does not hold the key the coordinator announced for this server: not talking to it"
            let why = value == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
                ? "a cryptographic error (\(wrongKey))"
                : value == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
                ? "a security mechanism mismatch (one side uses CURVE, the other does not)"
                : "protocol error 0x\(String(value, radix: 16))"
            return "the CURVE handshake with \(name) at \(endpoint) failed: \(why)"
        default:
            // A CURVE server that cannot read the client's hello (it lacks the secret key of
            // the public key the client expects) drops the connection without a word.
            let alternative = peer == .shardServer ? "; or the process there does not hold the key the coordinator announced for this server" : ""
            return "the handshake with \(name) at \(endpoint) failed (no detail: the connection dropped or timed out\(alternative))"
        }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        zmq_socket_monitor(watched, nil, 0)
        socket.close()
    }
}
