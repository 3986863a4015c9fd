// One error type for everything that can go wrong with a checkpoint file or run directory.
// Its description is one line that names the file first, then what is wrong.

/// A checkpoint could not be written, read, validated or resolved.
///
/// `description` is one line: `runs/x/ckpt-00000300.h5: not a Loom checkpoint (no 'format' attribute)`.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, without the file name.
    public enum Reason: Equatable, Sendable {
        /// The file does not exist.
        case fileMissing
        /// The file is empty, shorter than an HDF5 header, or lacks the HDF5 signature.
        case notHDF5
        /// HDF5 signature present but the library cannot open or read the file.
        case truncatedOrCorrupt(detail: String)
        /// A readable HDF5 file that is not a Loom checkpoint (foreign file).
        case notLoomCheckpoint(detail: String)
        /// `format_version` newer (or older) than this build reads.
        case unsupportedVersion(found: Int, supported: ClosedRange<Int>)
        /// A required group, dataset or attribute is absent.
        case missing(object: String)
        /// A dataset or attribute has the wrong element type.
        case wrongType(object: String, found: String, expected: String)
        /// A model tensor's shape differs from the expectation (names the state_dict key).
        case shapeMismatch(tensor: String, found: [Int], expected: [Int])
        /// The model lacks a tensor the expectation lists.
        case missingTensor(tensor: String)
        /// The model holds a tensor the expectation does not list.
        case unexpectedTensor(tensor: String)
        /// A NaN or infinity; `index` is the flat row-major element index.
        case nonFinite(object: String, index: Int, value: Float)
        /// A value that breaks the schema (unequal metrics columns, bad run id, ...).
        case invalid(object: String, detail: String)
        /// A system call failed while writing; `errno` text included.
        case writeFailed(operation: String, detail: String)
        /// Every checkpoint in a run directory failed validation.
        case noValidCheckpoint(count: Int, newest: String)
        /// An error from the run directory's metrics.csv.
        case metricsCSV(line: Int, detail: String)
    }

    /// The checkpoint file (or run directory / metrics.csv) concerned.
    public var path: String
    public var reason: Reason

    public init(path: String, reason: Reason) { self.path = path; self.reason = reason }

    public var description: String { "\(path): \(reason.text)" }
}

extension CheckpointError.Reason {
    /// The reason as a phrase (no file name, no trailing period).
    public var text: String {
        switch self {
        case .fileMissing: return "no such file"
        case .notHDF5: return "truncated or not an HDF5 file (no HDF5 signature)"
        case .truncatedOrCorrupt(let d): return "truncated or corrupt HDF5 file (\(d))"
        case .notLoomCheckpoint(let d): return "not a Loom checkpoint (\(d))"
        case .unsupportedVersion(let v, let s):
            return "unsupported format_version \(v) (this build reads \(s.lowerBound)...\(s.upperBound))"
        case .missing(let o): return "missing \(o)"
        case .wrongType(let o, let f, let e): return "\(o) has type \(f), expected \(e)"
        case .shapeMismatch(let t, let f, let e): return "tensor \(t) has shape \(f), expected \(e)"
        case .missingTensor(let t): return "tensor \(t) is missing (the expected model has it)"
        case .unexpectedTensor(let t): return "tensor \(t) is not part of the expected model"
        case .nonFinite(let o, let i, let v):
            return "tensor \(o) contains \(v.isNaN ? "NaN" : "\(v)") at element \(i)"
        case .invalid(let o, let d): return "\(o): \(d)"
        case .writeFailed(let op, let d): return "write failed: \(op): \(d)"
        case .noValidCheckpoint(let n, let newest):
            return "none of \(n) checkpoint(s) is valid (newest: \(newest))"
        case .metricsCSV(let line, let d): return "line \(line): \(d)"
        }
    }
}
