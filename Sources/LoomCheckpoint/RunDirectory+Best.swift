// `best.h5`: the checkpoint of the best evaluation so far (`checkpoint.keep_best`), a file of
// its own next to `latest.h5`, never pruned, and how commands find `best` and `latest`.

import Foundation

extension RunDirectory {
    public static let bestName = "best.h5"

    /// `<dir>/best.h5`.
    public var bestPath: String { path + "/" + Self.bestName }

    /// Writes `contents` atomically as `best.h5`, replacing the previous best (the
    /// numbered checkpoints and `latest.h5` are not touched). Returns the path written.
    @discardableResult
    public func saveBest(_ contents: CheckpointContents) throws(CheckpointError) -> String {
        try CheckpointWriter.write(contents, to: bestPath)
        return bestPath
    }

    /// The checkpoints a command can name by a word instead of a path.
    public enum NamedCheckpoint: String, CaseIterable, Sendable {
        /// `latest.h5`: the checkpoint written last.
        case latest
        /// `best.h5`: the best evaluation of `checkpoint.keep_best`.
        case best
    }

    /// The path of a named checkpoint in this directory (whether or not it exists).
    public func path(of named: NamedCheckpoint) -> String {
        switch named {
        case .latest: return latestPath
        case .best: return bestPath
        }
    }
}
