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
    /// message atomically: once the first part is accepted the others are too. Frames of
    /// `zeroCopyBytes` or more are not copied: ZeroMQ reads them from the array's own
    /// storage, which a `FrameOwner` keeps alive until its I/O thread is done with them.
    func send(_ frames: [[UInt8]]) throws(TransportError) -> SendOutcome {
        for (index, frame) in frames.enumerated() {
            var message = zmq_msg_t()
            if frame.count >= Self.zeroCopyBytes {
                try FrameOwner.initialize(&message, with: frame, endpoint: endpoint)
            } else {
                guard zmq_msg_init_size(&message, frame.count) == 0 else { throw Self.error("zmq_msg_init_size", endpoint) }
                if !frame.isEmpty {
                    frame.withUnsafeBytes { _ = memcpy(zmq_msg_data(&message), $0.baseAddress!, $0.count) }
                }
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
    /// TCP; nil when libzmq has none, as for ipc) and its "User-Id" (what the ZAP handler
    /// answered for it: the client's CURVE public key, Z85; nil without CURVE).
    func receiveNowWithAddress() throws(TransportError) -> (frames: [[UInt8]], peerAddress: String?, userID: String?)? {
        var frames: [[UInt8]] = []
        var address: String?
        var userID: String?
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
            // A ROUTER's first part (the routing id it adds) carries no metadata: the first
            // part that has it says.
            if address == nil, let text = zmq_msg_gets(&message, "Peer-Address") { address = String(cString: text) }
            if userID == nil, let text = zmq_msg_gets(&message, "User-Id") { userID = String(cString: text) }
            let size = zmq_msg_size(&message)
            let data = zmq_msg_data(&message)!
            frames.append([UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                if size > 0 { memcpy(buffer.baseAddress!, data, size) }
                count = size
            })
            if zmq_msg_more(&message) == 0 {
                return (frames, address.flatMap { $0.isEmpty ? nil : $0 }, userID.flatMap { $0.isEmpty ? nil : $0 })
            }
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

    /// Frames this large or larger are sent without a copy (`FrameOwner`); smaller ones are
    /// copied, which costs less than the reference count and the free call of a zero-copy
    /// message (ZeroMQ copies frames under 33 bytes into the message itself anyway).
    static let zeroCopyBytes = 2048

    func close() {
        guard !isClosed else { return }
        isClosed = true
        zmq_close(handle)
    }
}

/// Holds a frame's bytes for ZeroMQ while a message made from them without a copy
/// (`zmq_msg_init_data`) is queued or being sent. The frame is a Swift array: a value that
/// nobody can change under us (a caller that changes its copy gets its own storage), whose
/// storage stays where it is while this reference keeps it alive. ZeroMQ calls `release`
/// from its I/O thread once the bytes are on the wire (or the message is dropped), which
/// drops the reference; Swift's reference counts are atomic, so any thread may do that.
/// One weights range a server sends to 8 workers is then 8 references to one buffer, not 8
/// copies of it, and a worker's gradient range goes from its encoded frame to the socket
/// (docs/SCALING.md, "Where the CPU goes on the bed").
final class FrameOwner {
    let bytes: [UInt8]

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Makes `message` a zero-copy message over `frame`'s bytes (`frame` not empty).
    static func initialize(_ message: inout zmq_msg_t, with frame: [UInt8], endpoint: String) throws(TransportError) {
        let owner = Unmanaged.passRetained(FrameOwner(frame))
        let data = owner.takeUnretainedValue().bytes.withUnsafeBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress!) }
        guard zmq_msg_init_data(&message, data, frame.count, release, owner.toOpaque()) == 0 else {
            owner.release()
            throw ZeroMQSocket.error("zmq_msg_init_data", endpoint)
        }
    }

    /// ZeroMQ's free function: `hint` is the retained owner.
    private static let release: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, hint in
        guard let hint else { return }
        Unmanaged<FrameOwner>.fromOpaque(hint).release()
    }
}
