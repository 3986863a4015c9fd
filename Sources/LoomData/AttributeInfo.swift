// What a dataset says about one of its label attributes (`/attributes/<name>`).

/// A labelled attribute of a dataset: its name, the head kind it feeds, its classes.
public struct AttributeInfo: Equatable, Sendable {
    /// How the attribute's labels are to be learnt (the `kind` attr in the file).
    public enum Kind: String, Sendable, CaseIterable {
        /// One class out of `classNames` per sample (`/labels/<name>` int32, -1 = missing).
        case softmax
        /// Any subset of `classNames` (`/targets/<name>` float32 [N, K]).
        case multilabel
        /// Yes/no (`/labels/<name>` 0/1, or a [N, 1] target).
        case binary
    }

    public var name: String
    public var kind: Kind
    public var classNames: [String]

    public init(name: String, kind: Kind, classNames: [String]) {
        self.name = name; self.kind = kind; self.classNames = classNames
    }
}

/// What an importer or generator wrote.
public struct DatasetSummary: Equatable, Sendable {
    /// The final file path.
    public var path: String
    public var name: String
    public var fingerprint: String
    /// Split names with their sample counts, in file order (sorted by name).
    public var splits: [String: Int]
    public var imageShape: ImageShape
}

extension DatasetError {
    /// Wraps an HDF5 layer error, keeping its file and object.
    static func hdf5(_ e: HDF5ErrorLike) -> DatasetError {
        if e.isChecksumMismatch { return .corrupt(file: e.file, object: e.object, reason: e.message) }
        return .io(file: e.file, reason: "\(e.object): \(e.message)")
    }
}

/// The parts of `HDF5Error` we report; a protocol so this file does not import LoomHDF5.
protocol HDF5ErrorLike {
    var file: String { get }
    var object: String { get }
    var message: String { get }
    /// A chunk's checksum did not match: the bytes on disk are not those written.
    var isChecksumMismatch: Bool { get }
}
