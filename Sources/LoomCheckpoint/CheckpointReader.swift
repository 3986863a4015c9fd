// Validated checkpoint reading: what resume, eval and predict call.

/// Reads and validates Loom checkpoints.
public enum CheckpointReader {
    /// Reads `path`, checking format and version, every required group and attribute,
    /// float32 model tensors and optimizer slots with finite values, metrics columns of
    /// equal length, and — when `expecting` is given — that the model tensors are exactly
    /// the expected names and shapes (the first mismatch in state_dict order is named).
    public static func read(_ path: String, expecting: CheckpointExpectation? = nil)
        throws(CheckpointError) -> CheckpointContents {
        let loaded = try CheckpointLoader.load(path, strict: true)
        if let expecting, let mismatch = expecting.firstMismatch(in: loaded.contents.model) {
            throw CheckpointError(path: path, reason: mismatch)
        }
        return loaded.contents
    }

    /// A short summary from the root attributes only (cheap: no tensor is read).
    /// Throws for a missing, non-HDF5, damaged or foreign file.
    public static func peek(_ path: String) throws(CheckpointError) -> CheckpointSummary {
        let file = try CheckpointLoader.open(path)
        defer { file.close() }
        let attrs = AttributeReader(path: path, root: file.root)
        guard let format = try attrs.optionalString("format", on: "/") else {
            throw CheckpointError(path: path, reason: .notLoomCheckpoint(detail: "no 'format' attribute"))
        }
        guard format == CheckpointLayout.format else {
            throw CheckpointError(path: path, reason: .notLoomCheckpoint(detail: "format is '\(format)'"))
        }
        return CheckpointSummary(
            path: path, formatVersion: try attrs.int("format_version", on: "/"),
            loomVersion: try attrs.optionalString("loom_version", on: "/") ?? "",
            runID: try attrs.string("run_id", on: "/"), step: try attrs.int("step", on: "/"),
            epoch: try attrs.int("epoch", on: "/"), createdUTC: try attrs.optionalString("created_utc", on: "/") ?? "",
            datasetFingerprint: try attrs.optionalString("dataset_fingerprint", on: "/") ?? "")
    }
}

/// The root attributes of a checkpoint, as `CheckpointReader.peek` returns them.
public struct CheckpointSummary: Equatable, Sendable {
    public var path: String
    public var formatVersion: Int
    public var loomVersion: String
    public var runID: String
    public var step: Int
    public var epoch: Int
    public var createdUTC: String
    public var datasetFingerprint: String
}
