// A worker's view of its failed CURVE handshakes. libzmq retries a refused connection by
// itself, every reconnect interval, and says nothing: without this a worker whose key the
// coordinator does not allow waited in silence. A socket monitor on the worker's DEALER
// hears each failure; with ZAP's status code when the coordinator's ZAP handler refused
// (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: libzmq passes the code, not ZAP's status text).

import CZeroMQ

/// Reads the handshake failures of one connected socket; used from the socket's thread.
final class HandshakeMonitor {
    private let socket: ZeroMQSocket
    private let watched: UnsafeMutableRawPointer
    private var isClosed = false

    /// Attaches a monitor to `watched` (same `context`) for handshake failures.
    init(context: UnsafeMutableRawPointer, watching watched: ZeroMQSocket) throws(TransportError) {
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
            found.append(Self.explain(event: event, value: value, endpoint: String(decoding: frames[1], as: UTF8.self)))
        }
        return found
    }

    /// One monitor event as a sentence for the log.
    static func explain(event: Int32, value: UInt32, endpoint: String) -> String {
        switch event {
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            let why: String
            switch value {
            case 400: why = "this worker's key is not in its allow-list (add this worker's loom.pub to the coordinator's keys/authorized/)"
            case 300: why = "a temporary error of its authenticator"
            case 500: why = "an internal error of its authenticator"
            default: why = "status \(value)"
            }
            return "the coordinator at \(endpoint) refused the CURVE handshake (ZAP status \(value)): \(why)"
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            let why = value == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
                ? "a cryptographic error (is coordinator.pub this coordinator's public key?)"
                : value == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
                ? "a security mechanism mismatch (one side uses CURVE, the other does not)"
                : "protocol error 0x\(String(value, radix: 16))"
            return "the CURVE handshake with \(endpoint) failed: \(why)"
        default:
            return "the handshake with \(endpoint) failed (no detail: the connection dropped or timed out)"
        }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        zmq_socket_monitor(watched, nil, 0)
        socket.close()
    }
}
