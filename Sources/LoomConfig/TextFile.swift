// Reading a config or model file whole. Only regular files (symbolic links followed): a FIFO
// would block the read until something writes to it, which for a config is forever.

import Foundation

enum TextFile {
    /// Why a file could not be read, in words for an error line.
    struct Unreadable: Error { let why: String }

    /// The largest config or model file read: 16 MiB.
    static let maxBytes = 16 << 20

    /// The UTF-8 text of the regular file at `path`, or why it cannot be had.
    static func read(_ path: String) -> Result<String, Unreadable> {
        var status = stat()
        guard stat(path, &status) == 0 else { return .failure(Unreadable(why: "no such file")) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            return .failure(Unreadable(why: "not a regular file (a FIFO, device or directory)"))
        }
        // A config is a few KiB; a welcome's `model.file` may name any file of the worker's.
        guard status.st_size <= maxBytes else {
            return .failure(Unreadable(why: "\(status.st_size) bytes, more than the \(maxBytes) a config or model file may have"))
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return .failure(Unreadable(why: "not readable UTF-8 text"))
        }
        return .success(text)
    }
}
