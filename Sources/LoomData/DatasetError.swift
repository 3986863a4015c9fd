// Errors of the data layer. Every case names the file and the object (dataset path,
// attribute, split) that is wrong, so a user can fix the input without reading code.

/// What went wrong reading, importing or generating a dataset, and where.
public enum DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file does not exist or cannot be opened.
    case fileNotFound(file: String)
    /// An IDX file is malformed: wrong magic number, sizes, truncated or trailing data.
    case badIDX(file: String, reason: String)
    /// Two files that must agree do not (e.g. image and label counts).
    case mismatch(file: String, reason: String)
    /// A label value is outside the declared classes.
    case labelOutOfRange(file: String, index: Int, value: Int, classes: Int)
    /// The HDF5 file lacks an object the layout requires (a split, label, attribute, attr).
    case missingObject(file: String, object: String)
    /// An object exists but has the wrong shape, type or value for the layout.
    case badLayout(file: String, object: String, reason: String)
    /// A caller asked for something the dataset cannot serve (index out of range...).
    case invalidRequest(file: String, reason: String)
    /// An error from the HDF5 layer or the file system, with its message.
    case io(file: String, reason: String)
    /// A configuration value the data pipeline cannot use.
    case badConfig(key: String, reason: String)
    /// An import into `output` was stopped (SIGTERM, SIGINT) `at` a point of its work
    /// ("reading train-images-idx3-ubyte.gz", "row 512 of 2000"); nothing was written
    /// under `output`.
    case stopped(output: String, at: String)
    /// Stored bytes of `object` (a dataset inside the file) fail their Fletcher-32 chunk
    /// checksum: the file changed on disk after it was written (a bad disk, a bad copy, an
    /// edit). Nothing read from it was used.
    case corrupt(file: String, object: String, reason: String)
    /// The content no longer hashes to the file's `fingerprint` attribute: the data was
    /// changed after it was written, keeping the old fingerprint.
    case fingerprintMismatch(file: String, stored: String, computed: String)

    public var description: String {
        switch self {
        case .fileNotFound(let file):
            return "\(file): file not found or not readable"
        case .badIDX(let file, let reason):
            return "\(file): not a valid IDX file: \(reason)"
        case .mismatch(let file, let reason):
            return "\(file): \(reason)"
        case .labelOutOfRange(let file, let index, let value, let classes):
            return "\(file): label \(value) at index \(index) is outside 0..<\(classes)"
        case .missingObject(let file, let object):
            return "\(file): missing \(object)"
        case .badLayout(let file, let object, let reason):
            return "\(file): \(object): \(reason)"
        case .invalidRequest(let file, let reason):
            return "\(file): \(reason)"
        case .io(let file, let reason):
            return "\(file): \(reason)"
        case .badConfig(let key, let reason):
            return "config key \(key): \(reason)"
        case .stopped(let output, let at):
            return "\(output): import stopped \(at); nothing was written under this name"
        case .corrupt(let file, let object, let reason):
            return "\(file): \(object): corrupt data, a chunk fails its checksum (the file changed on disk after it was written; restore or re-import it): \(reason)"
        case .fingerprintMismatch(let file, let stored, let computed):
            return "\(file): the data does not match its fingerprint: the file says \(stored), its content hashes to \(computed) (it was changed after it was written; restore or re-import it)"
        }
    }
}
