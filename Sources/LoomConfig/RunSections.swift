// `training:`, `cluster:`, `checkpoint:`, `calibration:` — how long, how big, how often.

extension TrainingConfig {
    static let keys = ["seed", "epochs", "max_steps", "batch_size", "micro_batch", "log_every_steps",
                       "eval_every_steps", "tensorboard"]

    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(Self.keys)
        seed = UInt64(try r.int("seed", Int(seed), .nonNegative))
        epochs = try r.int("epochs", epochs, .positive)
        maxSteps = try r.int("max_steps", maxSteps, .nonNegative)
        batchSize = try r.int("batch_size", batchSize, .positive)
        microBatch = try r.int("micro_batch", microBatch, .positive)
        logEverySteps = try r.int("log_every_steps", logEverySteps, .positive)
        evalEverySteps = try r.int("eval_every_steps", evalEverySteps, .nonNegative)
        tensorboard = try r.string("tensorboard", tensorboard, nonEmpty: false)
        // Determinism rests on cutting every global batch into whole micro-shards.
        if batchSize % microBatch != 0 {
            throw r.error(r.node("micro_batch") != nil ? "micro_batch" : "batch_size",
                          "training.batch_size (\(batchSize)) must be a multiple of"
                          + " training.micro_batch (\(microBatch))")
        }
    }
}

extension ClusterConfig {
    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(["heartbeat_ms", "worker_timeout_ms", "pin_local_workers", "shared_memory", "step_deadline_ms",
                         "step_deadline_floor_ms", "audit"])
        heartbeatMs = try r.int("heartbeat_ms", heartbeatMs, .positive)
        workerTimeoutMs = try r.int("worker_timeout_ms", workerTimeoutMs, .positive)
        pinLocalWorkers = try r.bool("pin_local_workers", pinLocalWorkers)
        sharedMemory = try r.bool("shared_memory", sharedMemory)
        stepDeadlineMs = try r.int("step_deadline_ms", stepDeadlineMs, .nonNegative)
        stepDeadlineFloorMs = try r.int("step_deadline_floor_ms", stepDeadlineFloorMs, .positive)
        audit = try r.double("audit", audit, .unit)
        // A timeout shorter than two heartbeats declares healthy workers dead.
        if workerTimeoutMs < 2 * heartbeatMs {
            throw r.error("worker_timeout_ms", "cluster.worker_timeout_ms (\(workerTimeoutMs)) must be at least"
                          + " twice cluster.heartbeat_ms (\(heartbeatMs))")
        }
    }
}

extension CheckpointConfig {
    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(["dir", "every_steps", "keep"])
        dir = try r.string("dir", dir, nonEmpty: false)
        everySteps = try r.int("every_steps", everySteps, .nonNegative)
        keep = try r.int("keep", keep, .positive)
    }
}

extension CalibrationConfig {
    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(["split", "max_iterations"])
        split = try r.string("split", split)
        maxIterations = try r.int("max_iterations", maxIterations, .positive)
    }
}
