// Large payloads between processes of one machine without the socket: a file in /dev/shm
// that both map. The coordinator's region holds the weights (two slots, by version parity);
// each worker's holds its gradient sums (two slots, alternating). The messages still go
// over ZeroMQ, with a 16-byte `SharedSlot` in place of the array (docs/PROTOCOL.md, R14).
//
// File layout (little-endian), one page of header, then `slotCount` slots:
//
//   offset size field
//    0     8    magic "LOOMSHM1"
//    8     16   token: random bytes; a peer proves it mapped this very file by quoting them
//   24     4    slot count (u32)
//   28     4    reserved = 0
//   32     8    slot capacity in bytes (u64)
//   40     8    slot stride in bytes (u64): 64 + capacity rounded up to whole pages
//   48     8    pid of the creating process (u64)
//   slot i at 4096 + i * stride:
//    +0    8    tag (u64): 0 while being written, else what the writer published
//    +8    8    payload byte count (u64)
//    +64        payload
//
// A slot is a sequence lock: the writer stores tag 0, fences, writes the payload, then
// stores the new tag with release order. A reader loads the tag (acquire), copies, fences,
// and loads the tag again: the copy is good only if both loads saw the tag it expected.
// Only the creator writes; the other side maps the file read-only.

import CSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a region could not be created or opened, or does not match what was expected.
public enum SharedRegionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The operating system refused (no /dev/shm, no space, permissions...).
    case unavailable(path: String, reason: String)
    /// The file is not the Loom region that was named (wrong place, owner, size, magic, token).
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case .unavailable(let path, let reason): "shared memory \(path): \(reason)"
        case .invalid(let path, let reason): "shared memory \(path) refused: \(reason)"
        }
    }
}

/// A reference to one slot of the sender's region, in place of a payload array: slot (u32),
/// reserved (u32, 0), tag (u64, non-zero).
public struct SharedSlot: Equatable, Hashable, Sendable {
    public static let frameSize = 16
    public var slot: UInt32
    public var tag: UInt64

    public init(slot: UInt32, tag: UInt64) {
        self.slot = slot
        self.tag = tag
    }

    func frame() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.frameSize)
        store(slot, at: 0, in: &bytes)
        store(tag, at: 8, in: &bytes)
        return bytes
    }

    /// Parses a 16-byte reference; nil with the broken rule in `why`.
    static func parse(_ frame: [UInt8], why: inout String) -> SharedSlot? {
        guard frame.count == frameSize else { why = "a shared-slot reference is \(frameSize) bytes, got \(frame.count)"; return nil }
        let reserved: UInt32 = load(at: 4, from: frame)
        guard reserved == 0 else { why = "bytes 4-7 of a shared-slot reference are reserved (0)"; return nil }
        let tag: UInt64 = load(at: 8, from: frame)
        guard tag != 0 else { why = "a shared-slot tag is never 0"; return nil }
        return SharedSlot(slot: load(at: 0, from: frame), tag: tag)
    }
}

public final class SharedRegion: @unchecked Sendable {
    /// Where regions live; a peer's path must be a file directly in it.
    public static let directory = "/dev/shm"
    static let magic = Array("LOOMSHM1".utf8)
    static let headerBytes = 4096
    static let slotHeaderBytes = 64
    public static let tokenBytes = 16

    public let path: String
    public let token: [UInt8]
    public let slotCount: Int
    /// Payload capacity of each slot, bytes.
    public let slotBytes: Int
    private let stride: Int
    private let base: UnsafeMutableRawPointer
    private let mappedBytes: Int
    /// The owner's descriptor, holding a shared flock for the region's life: what tells a
    /// live region from one left behind (`removeStale`). -1 for a peer.
    private let lockDescriptor: Int32
    /// True for the creator: it may write, and it removes the file when closed.
    public let isOwner: Bool
    private var isClosed = false

    private init(path: String, token: [UInt8], slotCount: Int, slotBytes: Int, stride: Int,
                 base: UnsafeMutableRawPointer, mappedBytes: Int, isOwner: Bool, lockDescriptor: Int32 = -1) {
        self.lockDescriptor = lockDescriptor
        self.path = path
        self.token = token
        self.slotCount = slotCount
        self.slotBytes = slotBytes
        self.stride = stride
        self.base = base
        self.mappedBytes = mappedBytes
        self.isOwner = isOwner
    }

    deinit { close() }

    /// Unmaps the region; the owner also removes its file. Safe to call more than once.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        munmap(base, mappedBytes)
        if isOwner { unlink(path) }
        if lockDescriptor >= 0 { Glibc.close(lockDescriptor) }
    }

    /// The token as 32 lowercase hex digits (how handshakes quote it).
    public var tokenHex: String { hexDigits(token) }

    // MARK: - Creating

    /// Creates a region of `slotCount` slots of `slotBytes` each in `directory`, its file
    /// named `loom-<pid>-<kind>-<random>`, mode 0600, its space reserved up front (so that a
    /// full /dev/shm fails here, not with SIGBUS later). Removes the files of earlier Loom
    /// processes of this user that are gone (a SIGKILLed process cannot clean up); the new
    /// file stays locked (shared flock) until `close`.
    public static func create(kind: String, slotCount: Int, slotBytes: Int,
                              directory: String = SharedRegion.directory) throws(SharedRegionError) -> SharedRegion {
        precondition(slotCount >= 1 && slotBytes >= 0 && kind.allSatisfy(\.isLetter))
        removeStale(in: directory)
        var random = SystemRandomNumberGenerator()
        let token = (0..<tokenBytes).map { _ in UInt8.random(in: 0...255, using: &random) }
        let pid = getpid()
        let path = "\(directory)/loom-\(pid)-\(kind)-\(hexDigits(token.prefix(6)))"
        let stride = roundUp(slotHeaderBytes + slotBytes, to: headerBytes)
        let size = headerBytes + slotCount * stride
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .unavailable(path: path, reason: "cannot create: \(errorText())") }
        func fail(_ reason: String) -> SharedRegionError {
            unlink(path)
            Glibc.close(fd)
            return .unavailable(path: path, reason: reason)
        }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { throw fail("cannot lock: \(errorText())") }
        let reserved = posix_fallocate(fd, 0, off_t(size))
        guard reserved == 0 else { throw fail("cannot reserve \(size) bytes: \(String(cString: strerror(reserved)))") }
        guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw fail("cannot map \(size) bytes: \(errorText())")
        }
        let header = mapped.assumingMemoryBound(to: UInt8.self)
        for (i, byte) in (magic + token).enumerated() { header[i] = byte }
        mapped.storeBytes(of: UInt32(slotCount).littleEndian, toByteOffset: 24, as: UInt32.self)
        mapped.storeBytes(of: UInt64(slotBytes).littleEndian, toByteOffset: 32, as: UInt64.self)
        mapped.storeBytes(of: UInt64(stride).littleEndian, toByteOffset: 40, as: UInt64.self)
        mapped.storeBytes(of: UInt64(pid).littleEndian, toByteOffset: 48, as: UInt64.self)
        return SharedRegion(path: path, token: token, slotCount: slotCount, slotBytes: slotBytes, stride: stride,
                            base: mapped, mappedBytes: size, isOwner: true, lockDescriptor: fd)
    }

    /// Removes the `loom-<pid>-<kind>-<id>` regular files in `directory` that belong to this
    /// user and that no process holds locked (their creator is gone, whatever its PID
    /// namespace). The lock is taken on the opened file, then the name is checked to still
    /// be that file before it is removed.
    /// (A region made by another process in the instant between its create and its lock
    /// could be taken for stale; its creator's peers then fail to open it and use the
    /// socket: slower, never wrong.)
    static func removeStale(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix("loom-") && name.split(separator: "-").count == 4 {
            let path = "\(directory)/\(name)"
            let fd = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else { continue }
            defer { Glibc.close(fd) }
            var opened = stat(), named = stat()
            guard fstat(fd, &opened) == 0, opened.st_uid == geteuid(), (opened.st_mode & S_IFMT) == S_IFREG,
                  flock(fd, LOCK_EX | LOCK_NB) == 0,
                  lstat(path, &named) == 0, named.st_ino == opened.st_ino, named.st_dev == opened.st_dev else { continue }
            unlink(path)
        }
    }

    // MARK: - Opening a peer's region

    /// Maps the region at `path`, created by another process of this user on this machine,
    /// read-only. `path` must name a `loom-...` file directly in `directory`, a regular file
    /// (not a link) owned by this user, with a consistent header; with `token`, the header
    /// must quote it. The caller checks the slot count and size it needs.
    public static func open(path: String, token: [UInt8]? = nil,
                            directory: String = SharedRegion.directory) throws(SharedRegionError) -> SharedRegion {
        let name = path.hasPrefix(directory + "/") ? String(path.dropFirst(directory.count + 1)) : ""
        guard name.hasPrefix("loom-"), !name.contains("/"), name.split(separator: "-").count == 4 else {
            throw .invalid(path: path, reason: "not a Loom region (a loom-<pid>-<kind>-<id> file directly in \(directory))")
        }
        // O_NONBLOCK: the path comes in a welcome, and opening a FIFO for reading would
        // wait for a writer, past SIGTERM; non-blocking, it opens and fails the check below.
        let fd = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ELOOP { throw .invalid(path: path, reason: "a symbolic link") }
            throw .unavailable(path: path, reason: "cannot open: \(errorText())")
        }
        defer { Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unavailable(path: path, reason: "cannot stat: \(errorText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .invalid(path: path, reason: "not a regular file") }
        guard info.st_uid == geteuid() else {
            throw .invalid(path: path, reason: "owned by uid \(info.st_uid), not this user (\(geteuid()))")
        }
        let size = Int(info.st_size)
        guard size >= headerBytes else { throw .invalid(path: path, reason: "\(size) bytes, shorter than the header") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw .unavailable(path: path, reason: "cannot map: \(errorText())")
        }
        let bytes = UnsafeRawBufferPointer(start: mapped, count: headerBytes)
        func fail(_ reason: String) -> SharedRegionError {
            munmap(mapped, size)
            return .invalid(path: path, reason: reason)
        }
        guard Array(bytes[0..<8]) == magic else { throw fail("no LOOMSHM1 magic") }
        let found = Array(bytes[8..<(8 + tokenBytes)])
        if let token, token != found { throw fail("its token is not the one the peer named") }
        let slotCount = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt32.self)))
        let slotBytes = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 32, as: UInt64.self))
        let stride = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 40, as: UInt64.self))
        guard slotCount >= 1, slotBytes <= UInt64(Int32.max), stride == UInt64(roundUp(slotHeaderBytes + Int(slotBytes), to: headerBytes)),
              UInt64(headerBytes) + UInt64(slotCount) * stride == UInt64(size) else {
            throw fail("header (\(slotCount) slots of \(slotBytes) bytes, stride \(stride)) does not fit a file of \(size) bytes")
        }
        return SharedRegion(path: path, token: found, slotCount: slotCount, slotBytes: Int(slotBytes), stride: Int(stride),
                            base: mapped, mappedBytes: size, isOwner: false)
    }

    // MARK: - Slots

    private func slotBase(_ slot: Int) -> UnsafeMutableRawPointer { base + Self.headerBytes + slot * stride }

    /// Publishes `payload` in `slot` under `tag` (non-zero). Owner only.
    public func write(slot: Int, tag: UInt64, payload: UnsafeRawBufferPointer) {
        precondition(isOwner && !isClosed && slot >= 0 && slot < slotCount && tag != 0 && payload.count <= slotBytes)
        let s = slotBase(slot)
        loom_store_release_u64(s, 0)
        loom_fence_release()
        s.storeBytes(of: UInt64(payload.count).littleEndian, toByteOffset: 8, as: UInt64.self)
        if let source = payload.baseAddress, payload.count > 0 { memcpy(s + Self.slotHeaderBytes, source, payload.count) }
        loom_store_release_u64(s, tag)
    }

    /// Copies the payload of `slot` into `destination` if the slot holds `tag` before and
    /// after the copy and its payload is exactly `destination.count` bytes; false otherwise
    /// (another tag, a write under way or since, another size, a slot out of range).
    public func read(slot: Int, tag: UInt64, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard let source = payload(slot: slot, tag: tag, byteCount: destination.count) else { return false }
        if let target = destination.baseAddress, let from = source.baseAddress { memcpy(target, from, source.count) }
        return stillHolds(slot: slot, tag: tag)
    }

    /// The payload of `slot` where it lies, if the slot holds `tag` and exactly `byteCount`
    /// bytes now; nil otherwise. The first half of a read without the copy: whatever is
    /// computed from these bytes is good only if `stillHolds(slot:tag:)` is true afterwards.
    public func payload(slot: Int, tag: UInt64, byteCount: Int) -> UnsafeRawBufferPointer? {
        guard !isClosed, slot >= 0, slot < slotCount, tag != 0, byteCount >= 0, byteCount <= slotBytes else { return nil }
        let s = UnsafeRawPointer(slotBase(slot))
        guard loom_load_acquire_u64(s) == tag else { return nil }
        let count = UInt64(littleEndian: s.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        guard count == UInt64(byteCount) else { return nil }
        return UnsafeRawBufferPointer(start: s + Self.slotHeaderBytes, count: byteCount)
    }

    /// The second half of a read: whether `slot` still holds `tag` once the bytes that
    /// `payload(slot:tag:byteCount:)` gave have been used (no write began since).
    public func stillHolds(slot: Int, tag: UInt64) -> Bool {
        guard !isClosed, slot >= 0, slot < slotCount, tag != 0 else { return false }
        loom_fence_acquire()
        return loom_load_acquire_u64(UnsafeRawPointer(slotBase(slot))) == tag
    }

    // MARK: - Helpers

    /// Whether `text` could be a token as handshakes quote it (32 lowercase hex digits).
    public static func isTokenHex(_ text: String) -> Bool {
        text.utf8.count == 2 * tokenBytes && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    private static func roundUp(_ n: Int, to unit: Int) -> Int { (n + unit - 1) / unit * unit }
    private static func errorText() -> String { String(cString: strerror(errno)) }
}
