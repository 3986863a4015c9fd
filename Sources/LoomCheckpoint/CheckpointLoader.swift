// Reads a checkpoint file into `CheckpointContents`, classifying every failure as a
// one-line `CheckpointError`: missing file, not HDF5, truncated, foreign, wrong version,
// missing objects, wrong types, non-finite values (strict mode).

import LoomHDF5

/// A checkpoint as read, with what inspection needs beyond the contents.
struct LoadedCheckpoint {
    var contents: CheckpointContents
    var formatVersion: Int
    var loomVersion: String
}

/// One read of one file. `strict` adds the finite-value checks (resume, eval);
/// inspection and diff read leniently so they can show a poisoned checkpoint.
struct CheckpointLoader {
    let path: String
    let root: HDF5Group

    /// HDF5's file signature (format spec, "Format Signature"), at offset 0 for files we write.
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

    static func load(_ path: String, strict: Bool) throws(CheckpointError) -> LoadedCheckpoint {
        let file = try open(path)
        defer { file.close() }
        let loader = CheckpointLoader(path: path, root: file.root)
        do {
            return try loader.load(strict: strict)
        } catch let error as CheckpointError {
            throw error
        } catch let error as HDF5Error {
            throw loader.corrupt(error)
        } catch {
            throw CheckpointError(path: path, reason: .truncatedOrCorrupt(detail: "\(error)"))
        }
    }

    /// Opens `path` with HDF5 and tells apart a missing, a foreign-format and a damaged file.
    static func open(_ path: String) throws(CheckpointError) -> HDF5File {
        guard DurableFile.exists(path) else { throw CheckpointError(path: path, reason: .fileMissing) }
        guard !DurableFile.isDirectory(path) else {
            throw CheckpointError(path: path, reason: .invalid(object: "path", detail: "is a directory, not a checkpoint file"))
        }
        guard DurableFile.isRegularFile(path) else {
            throw CheckpointError(path: path, reason: .invalid(object: "path", detail: "is not a regular file (a FIFO or a device), not a checkpoint file"))
        }
        do {
            return try HDF5File.open(path, mode: .readOnly)
        } catch {
            let head = DurableFile.prefix(path, count: signature.count) ?? []
            guard head == signature else { throw CheckpointError(path: path, reason: .notHDF5) }
            throw CheckpointError(path: path, reason: .truncatedOrCorrupt(detail: error.message))
        }
    }

    func corrupt(_ e: HDF5Error) -> CheckpointError {
        CheckpointError(path: path, reason: .truncatedOrCorrupt(detail: "\(e.object): \(e.message)"))
    }

    // MARK: - Fields

    private func load(strict: Bool) throws -> LoadedCheckpoint {
        let attrs = AttributeReader(path: path, root: root)
        guard let format = try attrs.optionalString("format", on: "/") else {
            throw CheckpointError(path: path, reason: .notLoomCheckpoint(detail: "no 'format' attribute"))
        }
        guard format == CheckpointLayout.format else {
            throw CheckpointError(path: path, reason: .notLoomCheckpoint(detail: "format is '\(format)'"))
        }
        let version = try attrs.int("format_version", on: "/")
        guard CheckpointLayout.supportedVersions.contains(version) else {
            throw CheckpointError(path: path, reason: .unsupportedVersion(
                found: version, supported: CheckpointLayout.supportedVersions))
        }
        for group in CheckpointLayout.requiredGroups where !root.isGroup(group) {
            throw CheckpointError(path: path, reason: .missing(object: "group /\(group)"))
        }
        let (model, bnLayers, tracked) = try readModel(strict: strict)
        var c = CheckpointContents(
            runID: try attrs.string("run_id", on: "/"), step: try attrs.int("step", on: "/"),
            epoch: try attrs.int("epoch", on: "/"), stepInEpoch: try attrs.optionalInt("step_in_epoch", on: "/") ?? 0,
            config: try attrs.string("config", on: "/"),
            datasetFingerprint: try attrs.string("dataset_fingerprint", on: "/"),
            model: model, batchNormLayers: bnLayers, numBatchesTracked: tracked,
            optimizer: try readOptimizer(attrs, strict: strict),
            schedule: ScheduleSnapshot(
                kind: try attrs.string("kind", on: "schedule"), epoch: try attrs.double("epoch", on: "schedule"),
                tCur: try attrs.double("T_cur", on: "schedule"), tI: try attrs.double("T_i", on: "schedule"),
                restarts: try attrs.int("restarts", on: "schedule"), lr: try attrs.double("lr", on: "schedule")),
            sampler: SamplerSnapshot(
                seed: try attrs.hex("seed", on: "sampler"), epoch: try attrs.int("epoch", on: "sampler"),
                stepInEpoch: try attrs.int("step_in_epoch", on: "sampler")),
            preprocessing: PreprocessingSnapshot(
                scale: try attrs.double("scale", on: "preprocessing"),
                mean: try attrs.doubles("mean", on: "preprocessing"), std: try attrs.doubles("std", on: "preprocessing")),
            createdUTC: try attrs.optionalString("created_utc", on: "/") ?? "")
        c.blasCore = try attrs.optionalString("blas_core", on: "/") ?? ""
        c.loomKernelPath = try attrs.optionalString("loom_kernel_path", on: "/") ?? ""
        c.loomKernelRevision = try attrs.optionalInt("loom_kernel_revision", on: "/") ?? 0
        for name in try root.children("rng") {
            c.rngStates[name] = try readScalar(UInt64.self, "rng/" + name, expected: [.uint64, .int64])
        }
        if root.isGroup("calibration") {
            for head in try root.children("calibration") {
                c.calibration[head] = try readScalar(Double.self, CheckpointLayout.temperaturePath(head),
                                                     expected: [.float64, .float32])
            }
        }
        c.metrics = try readMetrics(attrs)
        if root.isGroup("extra") {
            for key in try attrs.optionalStrings("keys", on: "extra") ?? [] {
                c.extraAttributes[key] = try attrs.string(key, on: "extra")
            }
        }
        return LoadedCheckpoint(contents: c, formatVersion: version,
                                loomVersion: try attrs.optionalString("loom_version", on: "/") ?? "")
    }

    /// Model tensors in state_dict order (`state_dict_order` attribute, then any others),
    /// and the batch-norm `num_batches_tracked` scalars.
    private func readModel(strict: Bool) throws -> ([NamedTensor], [String], Int) {
        let present = try root.datasets(under: "model").map(CheckpointLayout.stateDictName(relativeModelPath:))
        let listed = (try AttributeReader(path: path, root: root).optionalStrings("state_dict_order", on: "model")) ?? []
        let order = listed + present.filter { !listed.contains($0) }
        var model: [NamedTensor] = [], bnLayers: [String] = [], tracked = 0
        for name in order {
            let object = CheckpointLayout.modelPath(name)
            guard root.isDataset(object) else { throw CheckpointError(path: path, reason: .missing(object: object)) }
            let suffix = ".num_batches_tracked"
            if name.hasSuffix(suffix) {
                tracked = try readScalar(Int.self, object, expected: [.int64, .int32])
                bnLayers.append(String(name.dropLast(suffix.count)))
                continue
            }
            let values = try readFloats(object, strict: strict)
            model.append(NamedTensor(name: name, shape: values.shape, values: values.values))
        }
        return (model, bnLayers, tracked)
    }

    private func readOptimizer(_ attrs: AttributeReader, strict: Bool) throws -> OptimizerSnapshot {
        var o = OptimizerSnapshot(kind: try attrs.string("kind", on: "optimizer"), step: try attrs.int("step", on: "optimizer"))
        if root.isGroup("optimizer/flat") {
            for slot in try root.children("optimizer/flat") {
                o.slots[slot] = try readFloats(CheckpointLayout.flatSlotPath(slot), strict: strict).values
            }
        }
        return o
    }

    /// Columns in the order of `/metrics` attr `columns`, then any others; all equal length.
    private func readMetrics(_ attrs: AttributeReader) throws -> MetricsHistory {
        let present = try root.datasets(under: "metrics")
        let listed = try attrs.optionalStrings("columns", on: "metrics") ?? []
        var columns: [(String, [Double])] = []
        for name in listed + present.filter({ !listed.contains($0) }) {
            let object = CheckpointLayout.metricsPath(name)
            guard root.isDataset(object) else { throw CheckpointError(path: path, reason: .missing(object: object)) }
            try requireType(object, [.float64, .float32])
            columns.append((name, try root.read(Double.self, object).values))
        }
        let history = MetricsHistory(orderedColumns: columns)
        try CheckpointValidation.checkMetrics(history, path: path)
        return history
    }

    // MARK: - Typed reads

    /// The most floats one checkpoint tensor or optimizer slot may hold: the parameters of
    /// the largest model Loom builds (LoomModel's `ModelLimits.parameters`, 2^28). The file
    /// declares its shapes (a chunked dataset need not store its elements), so the shape
    /// is checked before the read allocates anything.
    static let maxTensorElements = 1 << 28

    private func readFloats(_ object: String, strict: Bool) throws -> HDF5Array<Float> {
        try requireType(object, [.float32])
        let shape = try root.shape(of: object)
        let count = shape.reduce(1, *)  // fits in Int: HDF5Group.shape checks the product
        guard count <= Self.maxTensorElements else {
            throw CheckpointError(path: path, reason: .invalid(object: object, detail: "shape \(shape) holds \(count) floats, more than the \(Self.maxTensorElements) of the largest model Loom builds"))
        }
        let array = try root.read(Float.self, object)
        if strict { try CheckpointValidation.checkFinite(array.values, object: object, path: path) }
        return array
    }

    private func readScalar<T: HDF5Scalar>(_ type: T.Type, _ object: String, expected: [HDF5ElementType]) throws -> T {
        try requireType(object, expected)
        let array = try root.read(T.self, object)
        guard array.shape.isEmpty || array.shape == [1], let v = array.values.first else {
            throw CheckpointError(path: path, reason: .invalid(object: object, detail: "expected a scalar, shape is \(array.shape)"))
        }
        return v
    }

    private func requireType(_ object: String, _ allowed: [HDF5ElementType]) throws {
        let t = try root.elementType(of: object)
        guard allowed.contains(t) else {
            throw CheckpointError(path: path, reason: .wrongType(
                object: object, found: "\(t)", expected: allowed.map { "\($0)" }.joined(separator: " or ")))
        }
    }
}
