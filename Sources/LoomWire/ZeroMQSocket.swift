// A thin, error-checked wrapper over one libzmq socket. Not thread-safe: one thread per
// socket, as libzmq requires. Errors carry the operation, the endpoint and zmq_strerror.

import CZeroMQ
import Foundation

/// Outcome of a non-blocking multipart send.
enum SendOutcome {
    case sent
    /// EAGAIN: high-water mark reached (or no peer for a DEALER); nothing was queued.
    case wouldBlock
    /// EHOSTUNREACH: ROUTER_MANDATORY and no peer with that routing id.
    case unreachable
}

final class ZeroMQSocket {
    let handle: UnsafeMutableRawPointer
    /// The endpoint named in errors (resolved after bind).
    var endpoint: String
    private var isClosed = false

    init(context: UnsafeMutableRawPointer, type: Int32, endpoint: String) throws(TransportError) {
        guard let handle = zmq_socket(context, type) else {
            throw Self.error("zmq_socket", endpoint)
        }
        self.handle = handle
        self.endpoint = endpoint
    }

    deinit { close() }

    static func error(_ operation: String, _ endpoint: String) -> TransportError {
        let code = zmq_errno()
        return .socket(operation: operation, endpoint: endpoint, errno: code, message: String(cString: zmq_strerror(code)))
    }

    func set(_ option: Int32, _ value: Int32, _ name: String) throws(TransportError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw Self.error("zmq_setsockopt(\(name))", endpoint)
        }
    }

    func set(_ option: Int32, _ value: Int64, _ name: String) throws(TransportError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) == 0 else {
            throw Self.error("zmq_setsockopt(\(name))", endpoint)
        }
    }

    func set(_ option: Int32, bytes: [UInt8], _ name: String) throws(TransportError) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw Self.error("zmq_setsockopt(\(name))", endpoint) }
    }

    func set(_ option: Int32, string: String, _ name: String) throws(TransportError) {
        try set(option, bytes: Array(string.utf8), name)
    }

    func getString(_ option: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard zmq_getsockopt(handle, option, &buffer, &size) == 0 else { return nil }
        return String(cString: buffer)
    }

    func bind(_ address: String) throws(TransportError) {
        guard zmq_bind(handle, address) == 0 else { throw Self.error("zmq_bind", address) }
    }

    func connect(_ address: String) throws(TransportError) {
        guard zmq_connect(handle, address) == 0 else { throw Self.error("zmq_connect", address) }
    }

    /// Sends `frames` as one multipart message without blocking. libzmq queues a multipart
    /// message atomically: once the first part is accepted the others are too.
    func send(_ frames: [[UInt8]]) throws(TransportError) -> SendOutcome {
        for (index, frame) in frames.enumerated() {
            var message = zmq_msg_t()
            guard zmq_msg_init_size(&message, frame.count) == 0 else { throw Self.error("zmq_msg_init_size", endpoint) }
            if !frame.isEmpty {
                frame.withUnsafeBytes { _ = memcpy(zmq_msg_data(&message), $0.baseAddress!, $0.count) }
            }
            let flags = ZMQ_DONTWAIT | (index < frames.count - 1 ? ZMQ_SNDMORE : 0)
            var rc: Int32
            repeat { rc = zmq_msg_send(&message, handle, flags) } while rc < 0 && zmq_errno() == EINTR
            if rc < 0 {
                let code = zmq_errno()
                zmq_msg_close(&message)
                if index == 0 && code == EAGAIN { return .wouldBlock }
                if index == 0 && code == EHOSTUNREACH { return .unreachable }
                throw Self.error("zmq_msg_send", endpoint)
            }
        }
        return .sent
    }

    /// One whole multipart message if one is waiting, nil otherwise (never blocks).
    func receiveNow() throws(TransportError) -> [[UInt8]]? {
        try receiveNowWithAddress()?.frames
    }

    /// As `receiveNow`, with the connection's "Peer-Address" metadata (the peer's IP for
    /// TCP; nil when libzmq has none, as for ipc).
    func receiveNowWithAddress() throws(TransportError) -> (frames: [[UInt8]], peerAddress: String?)? {
        var frames: [[UInt8]] = []
        var address: String?
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            var rc: Int32
            repeat { rc = zmq_msg_recv(&message, handle, ZMQ_DONTWAIT) } while rc < 0 && zmq_errno() == EINTR
            if rc < 0 {
                // Later parts of a multipart message are always ready once the first is.
                if frames.isEmpty && zmq_errno() == EAGAIN { return nil }
                throw Self.error("zmq_msg_recv", endpoint)
            }
            if address == nil, let text = zmq_msg_gets(&message, "Peer-Address") {
                address = String(cString: text)
            }
            let size = zmq_msg_size(&message)
            let data = zmq_msg_data(&message)!
            frames.append([UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                if size > 0 { memcpy(buffer.baseAddress!, data, size) }
                count = size
            })
            if zmq_msg_more(&message) == 0 { return (frames, address.flatMap { $0.isEmpty ? nil : $0 }) }
        }
    }

    /// Waits until a message can be read or `milliseconds` pass (-1: forever).
    /// Returns false on timeout. Throws ETERM when the context is shut down.
    func poll(milliseconds: Int) throws(TransportError) -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let rc = zmq_poll(&item, 1, milliseconds)
        if rc < 0 {
            if zmq_errno() == EINTR { return false }
            throw Self.error("zmq_poll", endpoint)
        }
        return rc > 0
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        zmq_close(handle)
    }
}
