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

    public init(file: String, object: String, message: String) {
        self.file = file
        self.object = object
        self.message = message
    }

    public var description: String { "\(file): \(object): \(message)" }

    /// An error for a call libhdf5 just refused; appends HDF5's innermost message.
    /// Must run before any other HDF5 call, which would clear the error stack.
    static func fromLibrary(file: String, object: String, _ message: String) -> HDF5Error {
        var buffer = [CChar](repeating: 0, count: 512)
        let found = loom_h5_innermost_error(&buffer, buffer.count)
        guard found != 0 else { return HDF5Error(file: file, object: object, message: message) }
        let detail = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return HDF5Error(file: file, object: object, message: "\(message) (HDF5: \(detail))")
    }
}
