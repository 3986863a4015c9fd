// Atomic checkpoint writing: validate, write a temporary file in the target's directory,
// close and fsync it, rename it into place, fsync the directory. A failure at any step
// removes the temporary file and throws; files already in place are never touched.

import Foundation
import LoomHDF5

/// Writes `CheckpointContents` as a Loom checkpoint (layout: docs/CHECKPOINT.md).
public enum CheckpointWriter {
    /// Writes `contents` to `path` atomically and durably.
    ///
    /// The temporary file is `<dir>/.<name>.tmp-<pid>`. Refuses contents that break the schema
    /// (non-finite values, shapes that do not match their values, ragged metrics) before
    /// creating any file, so a poisoned checkpoint is never written.
    public static func write(_ contents: CheckpointContents, to path: String) throws(CheckpointError) {
        try CheckpointValidation.checkWritable(contents, path: path)
        let temp = DurableFile.directory(of: path) + "/." + DurableFile.basename(path) + ".tmp-\(getpid())"
        do throws(HDF5Error) {
            let file = try HDF5File.create(temp)
            do throws(HDF5Error) {
                try CheckpointLayoutWriter(root: file.root, contents: contents).write()
                try file.flush()
                file.close()
            } catch {
                file.close()
                throw error
            }
        } catch {
            DurableFile.remove(temp)
            throw CheckpointError(path: path, reason: .writeFailed(operation: "write HDF5 file \(temp)",
                                                                   detail: "\(error.object): \(error.message)"))
        }
        do {
            try DurableFile.fsyncFile(temp)
            try DurableFile.moveIntoPlace(temp, to: path)
        } catch {
            DurableFile.remove(temp)
            throw error
        }
        try DurableFile.fsyncDirectory(DurableFile.directory(of: path))
    }

    /// Current time as ISO 8601 UTC, e.g. `2025-01-31T12:00:00Z`.
    static func nowUTC() -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date())
    }
}

/// Maps each field of the contents onto its HDF5 object.
struct CheckpointLayoutWriter {
    let root: HDF5Group
    let contents: CheckpointContents

    func write() throws(HDF5Error) {
        try writeRootAttributes()
        try writeModel()
        try writeOptimizer()
        try writeScheduleSamplerRNG()
        try writePreprocessingCalibration()
        try writeMetrics()
        try writeExtra()
    }

    private func writeRootAttributes() throws(HDF5Error) {
        let c = contents
        try root.setAttribute("format", CheckpointLayout.format, on: "/")
        try root.setAttribute("format_version", CheckpointLayout.formatVersion, on: "/")
        try root.setAttribute("loom_version", CheckpointLayout.loomVersion, on: "/")
        try root.setAttribute("run_id", c.runID, on: "/")
        try root.setAttribute("step", c.step, on: "/")
        try root.setAttribute("epoch", c.epoch, on: "/")
        try root.setAttribute("step_in_epoch", c.stepInEpoch, on: "/")
        try root.setAttribute("created_utc", c.createdUTC.isEmpty ? CheckpointWriter.nowUTC() : c.createdUTC, on: "/")
        try root.setAttribute("config", c.config, on: "/")
        try root.setAttribute("dataset_fingerprint", c.datasetFingerprint, on: "/")
        if !c.blasCore.isEmpty { try root.setAttribute("blas_core", c.blasCore, on: "/") }
        if !c.loomKernelPath.isEmpty { try root.setAttribute("loom_kernel_path", c.loomKernelPath, on: "/") }
        if c.loomKernelRevision > 0 { try root.setAttribute("loom_kernel_revision", c.loomKernelRevision, on: "/") }
    }

    /// `/model/<layer>/<param>` float32 in PyTorch layout, plus int64 `num_batches_tracked`.
    private func writeModel() throws(HDF5Error) {
        _ = try root.createGroup("model")
        for t in contents.model {
            try root.write(t.values, shape: t.shape, to: CheckpointLayout.modelPath(t.name))
        }
        for layer in contents.batchNormLayers {
            try root.writeScalar(Int64(contents.numBatchesTracked),
                                 to: CheckpointLayout.modelPath(layer + ".num_batches_tracked"))
        }
        // PyTorch's state_dict() order: per module, parameters then buffers.
        let order = StateDictOrder.keys(contents.model.map(\.name), batchNormLayers: contents.batchNormLayers)
        if !order.isEmpty { try root.setAttribute("state_dict_order", order, on: "model") }
    }

    /// `/optimizer` attrs kind, step; `/optimizer/flat/<slot>` `(P)`; per-parameter views.
    private func writeOptimizer() throws(HDF5Error) {
        let o = contents.optimizer
        _ = try root.createGroup("optimizer")
        try root.setAttribute("kind", o.kind, on: "optimizer")
        try root.setAttribute("step", o.step, on: "optimizer")
        let params = contents.parameters
        if !params.isEmpty { try root.setAttribute("parameters", params.map(\.name), on: "optimizer") }
        for slot in o.slots.keys.sorted() {
            let flat = o.slots[slot]!
            try root.write(flat, shape: [flat.count], to: CheckpointLayout.flatSlotPath(slot))
            // Readable views, only when the slot covers the parameters exactly.
            guard flat.count == contents.parameterCount else { continue }
            var offset = 0
            for p in params {
                let n = p.elementCount
                try root.write(Array(flat[offset..<offset + n]), shape: p.shape,
                               to: CheckpointLayout.slotPath(slot, parameter: p.name))
                offset += n
            }
        }
    }

    private func writeScheduleSamplerRNG() throws(HDF5Error) {
        let s = contents.schedule
        _ = try root.createGroup("schedule")
        try root.setAttribute("kind", s.kind, on: "schedule")
        try root.setAttribute("epoch", s.epoch, on: "schedule")
        try root.setAttribute("T_cur", s.tCur, on: "schedule")
        try root.setAttribute("T_i", s.tI, on: "schedule")
        try root.setAttribute("restarts", s.restarts, on: "schedule")
        try root.setAttribute("lr", s.lr, on: "schedule")

        let p = contents.sampler
        _ = try root.createGroup("sampler")
        try root.setAttribute("seed", CheckpointLayout.hex(p.seed), on: "sampler")
        try root.setAttribute("epoch", p.epoch, on: "sampler")
        try root.setAttribute("step_in_epoch", p.stepInEpoch, on: "sampler")

        _ = try root.createGroup("rng")
        for (name, state) in contents.rngStates.sorted(by: { $0.key < $1.key }) {
            try root.writeScalar(state, to: "rng/" + name)
        }
    }

    private func writePreprocessingCalibration() throws(HDF5Error) {
        let p = contents.preprocessing
        _ = try root.createGroup("preprocessing")
        try root.setAttribute("scale", p.scale, on: "preprocessing")
        try root.setAttribute("mean", p.mean, on: "preprocessing")
        try root.setAttribute("std", p.std, on: "preprocessing")

        _ = try root.createGroup("calibration")
        for (head, t) in contents.calibration.sorted(by: { $0.key < $1.key }) {
            try root.writeScalar(t, to: CheckpointLayout.temperaturePath(head))
        }
    }

    /// `/metrics/<name>` growing float64 series; `/metrics` attr `columns` keeps their order.
    private func writeMetrics() throws(HDF5Error) {
        let m = contents.metrics
        _ = try root.createGroup("metrics")
        if !m.names.isEmpty { try root.setAttribute("columns", m.names, on: "metrics") }
        for name in m.names {
            try root.writeSeries(m[name] ?? [], to: CheckpointLayout.metricsPath(name))
        }
    }

    /// `/extra` attrs: one string attribute per key, and `keys` listing them.
    private func writeExtra() throws(HDF5Error) {
        guard !contents.extraAttributes.isEmpty else { return }
        _ = try root.createGroup("extra")
        let keys = contents.extraAttributes.keys.sorted()
        try root.setAttribute("keys", keys, on: "extra")
        for k in keys { try root.setAttribute(k, contents.extraAttributes[k]!, on: "extra") }
    }
}
