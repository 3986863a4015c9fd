import CHDF5Shim

/// A failed HDF5 operation: which file, which object inside it, and what went wrong.
///
/// `description` is one line, `"<file>: <object>: <message>"`. When libhdf5 itself
/// refused the operation, `message` ends with the innermost entry of HDF5's error
/// stack in parentheses (e.g. `(HDF5: object 'w' doesn't exist)`); HDF5 never prints
/// its stack to stderr because ``HDF5Library`` silences it once per process.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// Path of the HDF5 file as given to `open`/`create`.
    public let file: String
    /// Absolute path of the object inside the file (`"/"` for the file itself),
    /// with `@name` appended for attributes.
    public let object: String
    /// What went wrong.
    public let message: String
    /// What kind of failure, when a caller may act on it.
    public let kind: Kind

    /// Failures a caller may want to tell apart from the rest.
    public enum Kind: Sendable, Equatable {
        case other
        /// The bytes read back are not those written: a chunk's Fletcher-32 checksum (or a
        /// metadata checksum) does not match. The file is corrupt; reading again won't help.
        case checksumMismatch
    }

    public init(file: String, object: String, message: String, kind: Kind = .other) {
        self.file = file
        self.object = object
        self.message = message
        self.kind = kind
    }

    public var description: String { "\(file): \(object): \(message)" }

    /// An error for a call libhdf5 just refused; appends HDF5's innermost message.
    /// Must run before any other HDF5 call, which would clear the error stack.
    static func fromLibrary(file: String, object: String, _ message: String) -> HDF5Error {
        var buffer = [CChar](repeating: 0, count: 512)
        let kind: Kind = loom_h5_checksum_failed() != 0 ? .checksumMismatch : .other
        let found = loom_h5_innermost_error(&buffer, buffer.count)
        guard found != 0 else { return HDF5Error(file: file, object: object, message: message, kind: kind) }
        let detail = readable(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        return HDF5Error(file: file, object: object, message: "\(message) (HDF5: \(detail))", kind: kind)
    }

    /// HDF5's message on one line. A failed system call's message (`file write failed:
    /// time = Sun Dec  6 12:05:14 2026\n, filename = ..., errno = 28, error message = 'No
    /// space left on device', buf = ...`) is cut to what it says: `file write failed: No
    /// space left on device`.
    static func readable(_ detail: String) -> String {
        if let quoted = detail.range(of: "error message = '"),
           let end = detail[quoted.upperBound...].firstIndex(of: "'"),
           let colon = detail.firstIndex(of: ":"), colon < quoted.lowerBound {
            return "\(detail[..<colon]): \(detail[quoted.upperBound..<end])"
        }
        return detail.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
