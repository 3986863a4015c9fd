// `optimizer:` and `schedule:` — how gradients become weight updates, and the learning rate over time.

extension OptimizerConfig {
    static let keys = ["kind", "lr", "momentum", "nesterov", "dampening", "weight_decay", "betas", "eps",
                       "no_decay_on_bias_and_norm", "trunk_lr_scale", "reference_batch"]

    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(Self.keys)
        kind = try r.choice("kind", kind)
        lr = try r.double("lr", lr, .positive)
        momentum = try r.double("momentum", momentum, .fraction)
        nesterov = try r.bool("nesterov", nesterov)
        dampening = try r.double("dampening", dampening, .unit)
        weightDecay = try r.double("weight_decay", weightDecay, .nonNegative)
        let betas = try r.doubles("betas", [beta1, beta2], .fraction)
        if betas.count != 2 {
            throw r.error("betas", "'optimizer.betas' must be [beta1, beta2], got \(betas.count) values")
        }
        (beta1, beta2) = (betas[0], betas[1])
        eps = try r.double("eps", eps, .positive)
        noDecayOnBiasAndNorm = try r.bool("no_decay_on_bias_and_norm", noDecayOnBiasAndNorm)
        trunkLRScale = try r.double("trunk_lr_scale", trunkLRScale, .nonNegative)
        referenceBatch = try r.int("reference_batch", referenceBatch, .nonNegative)
        // PyTorch refuses the same combination: Nesterov needs momentum and no dampening.
        if kind == .sgd && nesterov && (momentum == 0 || dampening != 0) {
            throw r.error("nesterov", "'optimizer.nesterov' needs optimizer.momentum > 0 and"
                          + " optimizer.dampening = 0 (got momentum \(momentum), dampening \(dampening))")
        }
    }
}

extension ScheduleConfig {
    static let keys = ["kind", "unit", "step_size", "gamma", "t_max", "t_0", "t_mult", "eta_min",
                       "warmup", "warmup_start_factor"]

    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(Self.keys)
        kind = try r.choice("kind", kind)
        unit = try r.choice("unit", unit)
        stepSize = try r.double("step_size", stepSize, .positive)
        gamma = try r.double("gamma", gamma, .positive)
        tMax = try r.double("t_max", tMax, .nonNegative)
        t0 = try r.double("t_0", t0, .positive)
        tMult = try r.int("t_mult", tMult, .positive)
        etaMin = try r.double("eta_min", etaMin, .nonNegative)
        warmup = try r.double("warmup", warmup, .nonNegative)
        warmupStartFactor = try r.double("warmup_start_factor", warmupStartFactor, .unit)
    }
}
