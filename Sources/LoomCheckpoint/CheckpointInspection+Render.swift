// Text, JSON and CSV renderings of a CheckpointInspection (the CLI only prints them).

import Foundation

extension CheckpointInspection {
    /// Human-readable report; `tensors` adds the per-tensor table.
    public func renderText(tensors showTensors: Bool) -> String {
        var out: [String] = []
        out.append("checkpoint  \(path)")
        out.append("format      loom-checkpoint v\(formatVersion) (written by loom \(loomVersion.isEmpty ? "?" : loomVersion))")
        out.append("run id      \(runID)")
        out.append("created     \(createdUTC)")
        out.append("step        \(step) (epoch \(epoch), step \(stepInEpoch) of the epoch)")
        out.append("lr          \(Self.num(lr))")
        out.append("schedule    \(schedule.kind): epoch \(Self.num(schedule.epoch)), T_cur \(Self.num(schedule.tCur)), "
                   + "T_i \(Self.num(schedule.tI)), restarts \(schedule.restarts)")
        out.append("optimizer   \(optimizerKind), step \(optimizerStep)")
        out.append("sampler     seed 0x\(CheckpointLayout.hex(sampler.seed)), epoch \(sampler.epoch), "
                   + "step \(sampler.stepInEpoch)")
        out.append("dataset     \(datasetFingerprint)")
        out.append("kernels     " + (blasCore.isEmpty ? "not recorded"
                                     : "OpenBLAS \(blasCore), Loom \(loomKernelPath.isEmpty ? "?" : loomKernelPath), "
                                       + "kernel revision \(loomKernelRevision == 0 ? "not recorded" : String(loomKernelRevision))"))
        out.append("parameters  \(parameterCount)")
        let mean = preprocessing.mean.map(Self.num).joined(separator: ", ")
        let std = preprocessing.std.map(Self.num).joined(separator: ", ")
        out.append("input       (pixel * \(Self.num(preprocessing.scale)) - [\(mean)]) / [\(std)]")
        if !batchNormLayers.isEmpty {
            out.append("batch norm  \(batchNormLayers.joined(separator: ", ")): num_batches_tracked \(numBatchesTracked)")
        }
        if calibration.isEmpty {
            out.append("calibration none")
        } else {
            out.append("calibration " + calibration.keys.sorted().map { "\($0) T=\(Self.num(calibration[$0]!))" }
                .joined(separator: ", "))
        }
        for (i, line) in configChanges.enumerated() { out.append((i == 0 ? "resumed     " : "            ") + line) }
        if let r = earlyStopping { out.append("early stop  " + r.text) }
        if let r = keepBest { out.append("best.h5     " + r.text) }
        if nonFiniteCount > 0 { out.append("WARNING     \(nonFiniteCount) non-finite value(s), see the tensor table") }
        out.append("")
        out.append("metrics (\(metrics.rowCount) rows)")
        if metrics.rowCount > 0 {
            // NaN: not logged at that row, or a metric that does not exist (a head with nothing labelled).
            out.append(Self.table(header: metrics.names, rows: metricsRows.map { $0.map { $0.isNaN ? "n/a" : Self.num($0) } }))
        }
        out.append("")
        out.append("config")
        var configLines = config.split(separator: "\n", omittingEmptySubsequences: false)
        while configLines.last?.isEmpty == true { configLines.removeLast() }
        out += configLines.map { "  " + $0 }
        if showTensors {
            out.append("")
            out.append("tensors")
            let rows = tensors.map { t in
                [t.name, "\(t.shape)", t.dtype, Self.num(t.min), Self.num(t.max), Self.num(t.mean), Self.num(t.l2Norm),
                 t.nonFinite == 0 ? "" : "\(t.nonFinite)"]
            }
            out.append(Self.table(header: ["name", "shape", "dtype", "min", "max", "mean", "l2", "non-finite"], rows: rows))
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// The whole inspection as one JSON object (non-finite numbers as `null`).
    public func renderJSON() -> String {
        let tensorValues: [JSONValue] = tensors.map { t in
            .object([("name", .string(t.name)), ("path", .string(t.path)), ("shape", .array(t.shape.map { .int($0) })),
                     ("dtype", .string(t.dtype)), ("count", .int(t.count)), ("min", .number(t.min)),
                     ("max", .number(t.max)), ("mean", .number(t.mean)), ("l2_norm", .number(t.l2Norm)),
                     ("non_finite", .int(t.nonFinite))])
        }
        let value = JSONValue.object([
            ("path", .string(path)), ("format", .string(CheckpointLayout.format)),
            ("format_version", .int(formatVersion)), ("loom_version", .string(loomVersion)),
            ("run_id", .string(runID)), ("created_utc", .string(createdUTC)), ("step", .int(step)),
            ("epoch", .int(epoch)), ("step_in_epoch", .int(stepInEpoch)), ("lr", .number(lr)),
            ("schedule", .object([("kind", .string(schedule.kind)), ("epoch", .number(schedule.epoch)),
                                  ("T_cur", .number(schedule.tCur)), ("T_i", .number(schedule.tI)),
                                  ("restarts", .int(schedule.restarts)), ("lr", .number(schedule.lr))])),
            ("sampler", .object([("seed", .string(CheckpointLayout.hex(sampler.seed))), ("epoch", .int(sampler.epoch)),
                                 ("step_in_epoch", .int(sampler.stepInEpoch))])),
            ("optimizer", .object([("kind", .string(optimizerKind)), ("step", .int(optimizerStep))])),
            ("dataset_fingerprint", .string(datasetFingerprint)), ("parameter_count", .int(parameterCount)),
            ("kernels", .object([("blas_core", .string(blasCore)), ("loom_kernel_path", .string(loomKernelPath)),
                                  ("loom_kernel_revision", .int(loomKernelRevision))])),
            ("preprocessing", .object([("scale", .number(preprocessing.scale)),
                                       ("mean", .array(preprocessing.mean.map { .number($0) })),
                                       ("std", .array(preprocessing.std.map { .number($0) }))])),
            ("batch_norm_layers", .array(batchNormLayers.map { .string($0) })),
            ("num_batches_tracked", .int(numBatchesTracked)),
            ("calibration", .object(calibration.keys.sorted().map { ($0, .number(calibration[$0]!)) })),
            ("config", .string(config)),
            ("config_changes", .array(configChanges.map { .string($0) })),
            ("early_stopping", earlyStopping?.json ?? .null),
            ("keep_best", keepBest?.json ?? .null),
            ("metrics", .object([("columns", .array(metrics.names.map { .string($0) })),
                                 ("rows", .array(metricsRows.map { .array($0.map { .number($0) }) }))])),
            ("tensors", .array(tensorValues)),
        ])
        return value.rendered() + "\n"
    }

    /// The metrics history as CSV (header + one line per row), the format of metrics.csv.
    public func renderMetricsCSV() -> String {
        guard !metrics.names.isEmpty else { return "" }
        return metrics.names.joined(separator: ",") + "\n" + RunDirectory.csvRows(metrics, columns: metrics.names)
    }

    // MARK: - Formatting

    /// Compact number text: integers plainly, others with 6 significant digits (`%.6g`).
    static func num(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == v.rounded(), abs(v) < 1e12 { return String(Int64(v)) }
        return String(format: "%.6g", v)
    }

    /// Left-aligned columns separated by two spaces.
    static func table(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { c, cell in cell.padded(to: widths[c]) }
                .joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }

    /// Pads with spaces on the right to `n` characters.
    fileprivate func padded(to n: Int) -> String {
        count >= n ? self : self + String(repeating: " ", count: n - count)
    }
}
