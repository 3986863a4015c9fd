// Checks on checkpoint contents, shared by the writer (refuse to write a poisoned or
// malformed checkpoint) and the reader (refuse to resume from one).

/// Schema checks on `CheckpointContents`.
enum CheckpointValidation {
    /// Everything the writer requires; the error names `path` (the checkpoint to be written).
    static func checkWritable(_ c: CheckpointContents, path: String) throws(CheckpointError) {
        func invalid(_ object: String, _ detail: String) -> CheckpointError {
            CheckpointError(path: path, reason: .invalid(object: object, detail: detail))
        }
        guard CheckpointLayout.parseHex(c.runID) != nil else {
            throw invalid("run_id", "'\(c.runID)' is not a u64 in hex (1-16 hex digits)")
        }
        guard c.step >= 0, c.epoch >= 0, c.stepInEpoch >= 0 else {
            throw invalid("step", "step \(c.step), epoch \(c.epoch), step_in_epoch \(c.stepInEpoch) must be >= 0")
        }
        var seen = Set<String>()
        for t in c.model {
            guard isValidName(t.name), !t.name.contains("/") else { throw invalid("model", "bad tensor name '\(t.name)'") }
            guard seen.insert(t.name).inserted else { throw invalid("model", "tensor \(t.name) appears twice") }
            guard t.shape.allSatisfy({ $0 >= 0 }), t.elementCount == t.values.count else {
                throw invalid(t.name, "shape \(t.shape) does not hold \(t.values.count) values")
            }
            try checkFinite(t.values, object: t.name, path: path)
        }
        for layer in c.batchNormLayers {
            guard isValidName(layer), seen.insert(layer + ".num_batches_tracked").inserted else {
                throw invalid("model", "bad or duplicate batch-norm layer '\(layer)'")
            }
        }
        for (slot, values) in c.optimizer.slots {
            guard isValidName(slot), !slot.contains("."), slot != "flat" else {
                throw invalid("optimizer", "bad slot name '\(slot)'")
            }
            try checkFinite(values, object: "optimizer/" + slot, path: path)
        }
        for name in Array(c.rngStates.keys) + Array(c.calibration.keys) where !isValidName(name) || name.contains("/") {
            throw invalid("rng/calibration", "bad name '\(name)'")
        }
        if let bad = c.extraAttributes.keys.first(where: { $0.isEmpty || $0 == "keys" }) {
            throw invalid("extra", "bad key '\(bad)'")
        }
        try checkMetrics(c.metrics, path: path)
    }

    /// Metrics columns: equal length, names usable as HDF5 paths, no name that is also
    /// another name's group (`val_accuracy` next to `val_accuracy/top`).
    static func checkMetrics(_ m: MetricsHistory, path: String) throws(CheckpointError) {
        let n = m.rowCount
        for name in m.names {
            guard isValidName(name) else {
                throw CheckpointError(path: path, reason: .invalid(object: "metrics", detail: "bad column name '\(name)'"))
            }
            let count = m[name]?.count ?? 0
            guard count == n else {
                throw CheckpointError(path: path, reason: .invalid(
                    object: "metrics/" + name, detail: "has \(count) values, column \(m.names[0]) has \(n)"))
            }
            if let clash = m.names.first(where: { $0.hasPrefix(name + "/") }) {
                throw CheckpointError(path: path, reason: .invalid(
                    object: "metrics/" + name, detail: "is also the group of column \(clash)"))
            }
        }
    }

    /// Throws `.nonFinite` naming the first NaN or infinity.
    static func checkFinite(_ values: [Float], object: String, path: String) throws(CheckpointError) {
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw CheckpointError(path: path, reason: .nonFinite(object: object, index: i, value: values[i]))
        }
    }

    /// Non-empty, no empty path component, no leading or trailing `/`, no `.`/`..` component.
    static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.hasSuffix("/"), !name.contains("//") else { return false }
        return !name.split(separator: "/").contains { $0 == "." || $0 == ".." }
            && !name.split(separator: ".", omittingEmptySubsequences: false).contains { $0.isEmpty }
    }
}
