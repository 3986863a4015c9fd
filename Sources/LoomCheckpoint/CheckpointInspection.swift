// What `loom inspect` shows about one checkpoint. Reads leniently (a poisoned checkpoint
// can be inspected: non-finite values are counted, not refused), but a missing,
// truncated or foreign file is still a one-line CheckpointError.

/// Everything `loom inspect` reports about one checkpoint file.
public struct CheckpointInspection: Sendable {
    public var path: String
    public var formatVersion: Int
    public var loomVersion: String
    public var runID: String
    public var createdUTC: String
    public var step: Int
    public var epoch: Int
    public var stepInEpoch: Int
    /// Learning rate in effect (`/schedule` attr `lr`).
    public var lr: Double
    public var schedule: ScheduleSnapshot
    public var sampler: SamplerSnapshot
    public var optimizerKind: String
    public var optimizerStep: Int
    public var datasetFingerprint: String
    /// The kernels the run trained with (`CheckpointContents.blasCore`, `.loomKernelPath`;
    /// empty when not recorded).
    public var blasCore: String
    public var loomKernelPath: String
    /// `CheckpointContents.loomKernelRevision` (0 when not recorded).
    public var loomKernelRevision: Int = 0
    /// Trainable parameter elements (model tensors without batch-norm running statistics).
    public var parameterCount: Int
    /// The run's configuration, YAML.
    public var config: String
    public var preprocessing: PreprocessingSnapshot
    public var metrics: MetricsHistory
    /// Head → temperature (empty before `loom calibrate`).
    public var calibration: [String: Double]
    /// Batch-norm layers and their `num_batches_tracked`.
    public var batchNormLayers: [String]
    public var numBatchesTracked: Int
    /// Model tensors in state_dict order, then flat optimizer slots.
    public var tensors: [TensorStatistics]
    /// Config changes the run was resumed with, one line per resume (`/extra`
    /// `config_changes`; empty when it never changed).
    public var configChanges: [String] = []
    /// `training.early_stopping`'s and `checkpoint.keep_best`'s records (nil when the run
    /// watched nothing).
    public var earlyStopping: WatchRecord? = nil
    public var keepBest: WatchRecord? = nil

    /// Reads `path` and summarises it. Throws for a missing, non-HDF5, truncated or foreign file.
    public static func inspect(_ path: String) throws(CheckpointError) -> CheckpointInspection {
        let loaded = try CheckpointLoader.load(path, strict: false)
        let c = loaded.contents
        var tensors = c.model.map {
            TensorStatistics(name: $0.name, path: CheckpointLayout.modelPath($0.name), shape: $0.shape,
                             dtype: "float32", values: $0.values.map(Double.init))
        }
        tensors += c.optimizer.slots.keys.sorted().map { slot in
            let v = c.optimizer.slots[slot]!
            return TensorStatistics(name: "optimizer/" + slot, path: CheckpointLayout.flatSlotPath(slot),
                                    shape: [v.count], dtype: "float32", values: v.map(Double.init))
        }
        return CheckpointInspection(
            path: path, formatVersion: loaded.formatVersion, loomVersion: loaded.loomVersion, runID: c.runID,
            createdUTC: c.createdUTC, step: c.step, epoch: c.epoch, stepInEpoch: c.stepInEpoch,
            lr: c.schedule.lr, schedule: c.schedule, sampler: c.sampler, optimizerKind: c.optimizer.kind,
            optimizerStep: c.optimizer.step, datasetFingerprint: c.datasetFingerprint,
            blasCore: c.blasCore, loomKernelPath: c.loomKernelPath, loomKernelRevision: c.loomKernelRevision,
            parameterCount: c.parameterCount, config: c.config, preprocessing: c.preprocessing,
            metrics: c.metrics, calibration: c.calibration, batchNormLayers: c.batchNormLayers,
            numBatchesTracked: c.numBatchesTracked, tensors: tensors,
            configChanges: (c.extraAttributes["config_changes"] ?? "").split(separator: "\n").map(String.init),
            earlyStopping: WatchRecord.read(c.extraAttributes, earlyStopping: true),
            keepBest: WatchRecord.read(c.extraAttributes, earlyStopping: false))
    }

    /// The metrics history as rows (one array per logged point, columns in `metrics.names` order).
    public var metricsRows: [[Double]] {
        (0..<metrics.rowCount).map { r in metrics.names.map { metrics[$0]![r] } }
    }

    /// Total non-finite elements across all tensors (0 for a checkpoint Loom would resume from).
    public var nonFiniteCount: Int { tensors.reduce(0) { $0 + $1.nonFinite } }
}
