// What can go wrong while reading runs and writing a report, with the file it concerns.

import LoomCheckpoint
import LoomConfig

/// A report that cannot be made: names the file or directory and keeps the cause.
public enum ReportError: Error, CustomStringConvertible, Sendable {
    /// The path is no directory, or holds neither metrics.csv nor a checkpoint.
    case notARunDirectory(path: String, detail: String)
    /// metrics.csv or a checkpoint could not be read.
    case unreadable(CheckpointError)
    /// The configuration stored in a checkpoint does not parse.
    case config(checkpoint: String, cause: ConfigError)
    /// Evaluating a checkpoint failed (dataset missing or changed, bad split, ...).
    case evaluation(checkpoint: String, detail: String)
    /// The report or an export could not be written.
    case writeFailed(path: String, detail: String)

    public var description: String {
        switch self {
        case let .notARunDirectory(path, detail): return "\(path): not a run directory (\(detail))"
        case let .unreadable(cause): return "\(cause)"
        case let .config(checkpoint, cause): return "\(checkpoint): stored config: \(cause)"
        case let .evaluation(checkpoint, detail): return "\(checkpoint): evaluation: \(detail)"
        case let .writeFailed(path, detail): return "\(path): cannot write: \(detail)"
        }
    }
}
