// Names and paths of the checkpoint's HDF5 layout, in one place so writer, reader,
// inspector and docs/CHECKPOINT.md agree.

/// The HDF5 layout of a Loom checkpoint (format version 1).
public enum CheckpointLayout {
    /// Value of the root `format` attribute.
    public static let format = "loom-checkpoint"
    /// Version this build writes.
    public static let formatVersion = 1
    /// Versions this build reads.
    public static let supportedVersions = 1...1
    /// Written to the root `loom_version` attribute.
    public static let loomVersion = "0.1.0"

    /// Groups every checkpoint has.
    public static let requiredGroups = ["model", "optimizer", "schedule", "sampler", "rng",
                                        "preprocessing", "metrics"]

    /// Batch-norm buffers: state_dict entries that are not trainable parameters.
    public static let bufferSuffixes = [".running_mean", ".running_var", ".num_batches_tracked"]

    /// Whether a state_dict name is a buffer rather than a trainable parameter.
    public static func isBuffer(_ name: String) -> Bool {
        bufferSuffixes.contains { name.hasSuffix($0) }
    }

    /// `"c1.weight"` → `"model/c1/weight"`: a PyTorch state_dict key as an HDF5 path,
    /// so h5py's `visititems` name with `/` → `.` gives the key back.
    public static func modelPath(_ stateDictName: String) -> String {
        "model/" + stateDictName.replacingDots()
    }

    /// `"model/c1/weight"` relative part `"c1/weight"` → `"c1.weight"`.
    public static func stateDictName(relativeModelPath p: String) -> String {
        String(p.map { $0 == "/" ? "." : $0 })
    }

    /// Flat optimizer slot: `/optimizer/flat/<slot>`, float32 `(P)`.
    public static func flatSlotPath(_ slot: String) -> String { "optimizer/flat/" + slot }

    /// Per-parameter view of a slot: `/optimizer/<slot>/<layer>/<param>`, shaped like the parameter.
    public static func slotPath(_ slot: String, parameter: String) -> String {
        "optimizer/" + slot + "/" + parameter.replacingDots()
    }

    /// `/calibration/<head>/temperature`, float64 scalar.
    public static func temperaturePath(_ head: String) -> String { "calibration/" + head + "/temperature" }

    /// `/metrics/<name>` (a `/` in the name makes a subgroup).
    public static func metricsPath(_ name: String) -> String { "metrics/" + name }

    /// A u64 as 16 lowercase hex digits (how seeds and RNG states are stored as attributes).
    public static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 16 - s.count)) + s
    }

    /// Parses `hex(_:)` output (1-16 hex digits, optional `0x`).
    public static func parseHex(_ s: String) -> UInt64? {
        let body = s.hasPrefix("0x") ? String(s.dropFirst(2)) : s
        guard (1...16).contains(body.count) else { return nil }
        return UInt64(body, radix: 16)
    }
}

extension String {
    fileprivate func replacingDots() -> String { String(map { $0 == "." ? "/" : $0 }) }
}
