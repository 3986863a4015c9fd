// `training:`, `cluster:`, `checkpoint:`, `calibration:` — how long, how big, how often.

extension TrainingConfig {
    static let keys = ["seed", "epochs", "max_steps", "batch_size", "micro_batch", "log_every_steps",
                       "eval_every_steps", "eval_every_epochs", "test_tta", "tensorboard", "early_stopping", "freeze",
                       "freeze_epochs"]

    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(Self.keys)
        seed = UInt64(try r.int("seed", Int(seed), .nonNegative, limit: ConfigLimits.seed))
        epochs = try r.int("epochs", epochs, .positive, limit: ConfigLimits.epochs)
        maxSteps = try r.int("max_steps", maxSteps, .nonNegative)
        batchSize = try r.int("batch_size", batchSize, .positive, limit: ConfigLimits.batch)
        microBatch = try r.int("micro_batch", microBatch, .positive, limit: ConfigLimits.batch)
        logEverySteps = try r.int("log_every_steps", logEverySteps, .positive)
        evalEverySteps = try r.int("eval_every_steps", evalEverySteps, .nonNegative)
        evalEveryEpochs = try r.int("eval_every_epochs", evalEveryEpochs, .nonNegative, limit: ConfigLimits.epochs)
        testTTA = try r.bool("test_tta", testTTA)
        tensorboard = try r.string("tensorboard", tensorboard, nonEmpty: false)
        if let s = try r.section("early_stopping") { earlyStopping = try EarlyStoppingConfig(reading: s) }
        freeze = try FrozenLayers(reading: r, key: "freeze")
        freezeEpochs = try r.int("freeze_epochs", freezeEpochs, .nonNegative)
        if freezeEpochs > 0 && freeze.isEmpty {
            throw r.error("freeze_epochs", "training.freeze_epochs (\(freezeEpochs)) needs training.freeze:"
                          + " the layers to hold still ('trunk', or a list of layer names)")
        }
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
                         "step_deadline_floor_ms", "audit", "servers", "wire", "overlap"])
        heartbeatMs = try r.int("heartbeat_ms", heartbeatMs, .positive, limit: ConfigLimits.milliseconds)
        workerTimeoutMs = try r.int("worker_timeout_ms", workerTimeoutMs, .positive, limit: ConfigLimits.milliseconds)
        pinLocalWorkers = try r.bool("pin_local_workers", pinLocalWorkers)
        sharedMemory = try r.bool("shared_memory", sharedMemory)
        stepDeadlineMs = try r.int("step_deadline_ms", stepDeadlineMs, .nonNegative, limit: ConfigLimits.milliseconds)
        stepDeadlineFloorMs = try r.int("step_deadline_floor_ms", stepDeadlineFloorMs, .positive, limit: ConfigLimits.milliseconds)
        audit = try r.double("audit", audit, .unit)
        servers = try r.int("servers", servers, .nonNegative, limit: 4096)
        wire = try r.choice("wire", wire)
        overlap = try r.bool("overlap", overlap)
        // Overlap is the servers' per-range update: without servers the coordinator sums
        // whole results, and there is nothing to overlap with.
        if overlap && servers == 0 {
            throw r.error("overlap", "cluster.overlap needs shard servers (cluster.servers > 0):"
                          + " the gradient goes by ranges to the servers, not to the coordinator")
        }
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
        try r.checkKeys(["dir", "every_steps", "keep", "max_consecutive_failures", "keep_best"])
        dir = try r.string("dir", dir, nonEmpty: false)
        everySteps = try r.int("every_steps", everySteps, .nonNegative)
        keep = try r.int("keep", keep, .positive)
        maxConsecutiveFailures = try r.int("max_consecutive_failures", maxConsecutiveFailures, .nonNegative)
        if r.node("keep_best") != nil { keepBest = try KeepBestConfig(reading: r, key: "keep_best") }
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
