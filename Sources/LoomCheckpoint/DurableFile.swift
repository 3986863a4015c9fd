// POSIX steps that make a write durable: fsync the file, rename it into place, fsync the
// directory so the rename itself survives a power cut. Each step throws with errno text.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small POSIX helpers for atomic, durable file replacement.
enum DurableFile {
    /// `strerror(errno)` for the current errno.
    static func errnoText() -> String {
        let code = errno
        return String(cString: strerror(code)) + " (errno \(code))"
    }

    /// Opens `path` read-only and fsyncs it.
    static func fsyncFile(_ path: String) throws(CheckpointError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw failure(path, "open for fsync") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure(path, "fsync") }
    }

    /// Fsyncs a directory so that a rename or unlink in it is durable.
    static func fsyncDirectory(_ dir: String) throws(CheckpointError) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw failure(dir, "open directory for fsync") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure(dir, "fsync directory") }
    }

    /// rename(2): atomically replaces `to` with `from` (same file system).
    static func moveIntoPlace(_ from: String, to: String) throws(CheckpointError) {
        guard rename(from, to) == 0 else { throw failure(to, "rename \(from) into place") }
    }

    /// Creates symlink `linkPath` → `target` (target relative to the link's directory).
    static func makeSymlink(target: String, at linkPath: String) throws(CheckpointError) {
        guard symlink(target, linkPath) == 0 else { throw failure(linkPath, "symlink") }
    }

    /// Removes a file, ignoring "does not exist".
    static func remove(_ path: String) {
        _ = unlink(path)
    }

    /// The target of a symlink, or nil when `path` is not a symlink.
    static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        buf[n] = 0
        return String(cString: buf)
    }

    /// Whether something (file, directory, dangling symlink) exists at `path`.
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Whether `path` is a directory (following symlinks).
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether `path` is a regular file (symbolic links followed): not a FIFO, whose read
    /// would block until a writer comes, nor a device.
    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Up to `count` bytes from the start of the file, or nil if it cannot be opened.
    static func prefix(_ path: String, count: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: count)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, count) }
        guard n >= 0 else { return nil }
        return Array(buf[0..<n])
    }

    /// Whether process `pid` is alive (signal 0 probe; EPERM means alive but not ours).
    static func processAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// The directory part of a path (`"."` when there is none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    /// The last path component.
    static func basename(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    private static func failure(_ path: String, _ op: String) -> CheckpointError {
        CheckpointError(path: path, reason: .writeFailed(operation: op, detail: errnoText()))
    }
}
