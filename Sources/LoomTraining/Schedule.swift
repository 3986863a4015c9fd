// Learning-rate schedules as pure functions of the optimizer step.
//
// `lr(atStep: i)` is the learning rate USED by optimizer step i (0-based), the value a
// PyTorch scheduler reports before its i-th `scheduler.step()`. Resume needs no scheduler
// state: the step count from the checkpoint gives the same learning rate.
//
// Clock: periods count `unit`s. With unit `epoch`, step i sits at u = i / stepsPerEpoch
// (fractional epochs, as PyTorch's CosineAnnealingWarmRestarts stepped with
// `scheduler.step(epoch + batch / iters)`); with unit `step`, u = i.
//
// Warmup (W = `warmup` units, f = `warmup_start_factor`): for u < W,
//   lr = base (f + (1 - f) u / W)                      (PyTorch LinearLR)
// and the main schedule then starts its OWN clock at the end of warmup: it sees u' = u - W,
// so an SGDR cycle or a step decay is counted from the first post-warmup step.
//
// Main schedules at u' (base = `baseLR`, eta = `eta_min`):
//   constant  lr = base
//   step      lr = base gamma^floor(u' / step_size)                 (StepLR)
//   cosine    lr = eta + (base - eta)(1 + cos(pi u' / T)) / 2, u' clamped to T
//             (CosineAnnealingLR; T = t_max, or the whole post-warmup run when t_max = 0)
//   sgdr      cycle i has length T_i = T_0 T_mult^i and starts at Σ_{j<i} T_j;
//             lr = eta + (base - eta)(1 + cos(pi T_cur / T_i)) / 2  (CosineAnnealingWarmRestarts)
// All in Double, as PyTorch computes learning rates in float64.

import Foundation
import LoomConfig

/// Where a step sits in the schedule (what a checkpoint's `/schedule` attributes record).
public struct SchedulePosition: Equatable, Sendable {
    /// Fractional epoch at the step: step / stepsPerEpoch.
    public var epoch: Double
    /// True while the linear warmup runs.
    public var inWarmup: Bool
    /// Units since the start of the current cycle (SGDR's T_cur; since the end of warmup for
    /// step/cosine; since the start of the run during warmup).
    public var tCur: Double
    /// Length of the current cycle in units (SGDR's T_i; t_max for cosine; step_size for
    /// step; warmup length during warmup; 0 for constant).
    public var tI: Double
    /// Completed warm restarts (SGDR) or decays (step) so far.
    public var restarts: Int
    /// Learning rate used at the step.
    public var lr: Double
}

/// A schedule configuration that cannot run.
public struct ScheduleError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "schedule: \(message)" }
}

/// The learning rate of every step of a run.
public struct LRSchedule: Equatable, Sendable {
    public let config: ScheduleConfig
    /// The learning rate the schedule scales (after the linear scaling rule).
    public let baseLR: Double
    public let stepsPerEpoch: Int
    public let totalSteps: Int
    /// Optimizer steps per schedule unit.
    public let stepsPerUnit: Int

    /// - stepsPerEpoch: optimizer steps in one epoch (> 0).
    /// - totalSteps: steps in the whole run (used by cosine with t_max = 0).
    public init(config: ScheduleConfig, baseLR: Double, stepsPerEpoch: Int,
                totalSteps: Int) throws(ScheduleError) {
        guard baseLR.isFinite && baseLR >= 0 else { throw ScheduleError("base lr must be finite and >= 0, got \(baseLR)") }
        guard stepsPerEpoch > 0 else { throw ScheduleError("steps per epoch must be > 0, got \(stepsPerEpoch)") }
        guard totalSteps >= 0 else { throw ScheduleError("total steps must be >= 0, got \(totalSteps)") }
        guard config.warmup >= 0 && config.warmup.isFinite else { throw ScheduleError("warmup must be >= 0, got \(config.warmup)") }
        guard (0...1).contains(config.warmupStartFactor) else {
            throw ScheduleError("warmup_start_factor must be in [0, 1], got \(config.warmupStartFactor)")
        }
        switch config.kind {
        case .constant: break
        case .step:
            guard config.stepSize > 0 else { throw ScheduleError("step_size must be > 0, got \(config.stepSize)") }
            guard config.gamma >= 0 else { throw ScheduleError("gamma must be >= 0, got \(config.gamma)") }
        case .cosine:
            guard config.tMax >= 0 else { throw ScheduleError("t_max must be >= 0, got \(config.tMax)") }
        case .sgdr:
            guard config.t0 > 0 else { throw ScheduleError("t_0 must be > 0, got \(config.t0)") }
            guard config.tMult >= 1 else { throw ScheduleError("t_mult must be >= 1, got \(config.tMult)") }
        }
        if config.kind == .cosine || config.kind == .sgdr {
            guard config.etaMin >= 0 && config.etaMin <= baseLR else {
                throw ScheduleError("eta_min must be in [0, base lr \(baseLR)], got \(config.etaMin)")
            }
        }
        self.config = config
        self.baseLR = baseLR
        self.stepsPerEpoch = stepsPerEpoch
        self.totalSteps = totalSteps
        self.stepsPerUnit = config.unit == .epoch ? stepsPerEpoch : 1
        if config.kind == .cosine && config.tMax == 0 && cosinePeriod <= 0 {
            throw ScheduleError("cosine with t_max 0 spans the run, but the run (\(totalSteps) steps) ends before warmup does")
        }
    }

    /// The learning rate used by optimizer step `step` (0-based).
    public func lr(atStep step: Int) -> Double { position(atStep: step).lr }

    /// Cosine period in units: t_max, or what is left of the run after warmup.
    var cosinePeriod: Double {
        config.tMax > 0 ? config.tMax : Double(totalSteps) / Double(stepsPerUnit) - config.warmup
    }

    /// The full position of step `step` (0-based; negative steps are treated as 0).
    public func position(atStep step: Int) -> SchedulePosition {
        let s = max(step, 0)
        let epoch = Double(s) / Double(stepsPerEpoch)
        let u = Double(s) / Double(stepsPerUnit)
        let w = config.warmup
        if u < w {
            let f = config.warmupStartFactor
            return SchedulePosition(epoch: epoch, inWarmup: true, tCur: u, tI: w, restarts: 0,
                                    lr: baseLR * (f + (1 - f) * u / w))
        }
        let t = u - w
        let eta = config.etaMin
        switch config.kind {
        case .constant:
            return SchedulePosition(epoch: epoch, inWarmup: false, tCur: t, tI: 0, restarts: 0, lr: baseLR)
        case .step:
            let decays = wholeCount(t / config.stepSize)
            return SchedulePosition(epoch: epoch, inWarmup: false, tCur: t - Double(decays) * config.stepSize,
                                    tI: config.stepSize, restarts: decays,
                                    lr: baseLR * pow(config.gamma, Double(decays)))
        case .cosine:
            let period = cosinePeriod
            let c = min(t, period)
            return SchedulePosition(epoch: epoch, inWarmup: false, tCur: c, tI: period, restarts: 0,
                                    lr: eta + (baseLR - eta) * (1 + cos(Double.pi * c / period)) / 2)
        case .sgdr:
            let (tCur, tI, restarts) = sgdrCycle(t)
            return SchedulePosition(epoch: epoch, inWarmup: false, tCur: tCur, tI: tI, restarts: restarts,
                                    lr: eta + (baseLR - eta) * (1 + cos(Double.pi * tCur / tI)) / 2)
        }
    }

    /// (T_cur, T_i, restarts) at `t` units after warmup.
    func sgdrCycle(_ t: Double) -> (Double, Double, Int) {
        let t0 = config.t0
        if config.tMult == 1 {
            let n = (t / t0).rounded(.down)
            // More restarts than Int counts (t_0 of 1e-320): the phase is anyone's; take 0.
            guard n < 9.2e18 else { return (0, t0, Int.max) }
            return (t - n * t0, t0, Int(n))
        }
        // Cycle lengths grow geometrically, so this loop runs O(log t) times; the sums of
        // integer cycle lengths are exact in Double, unlike PyTorch's log-based shortcut.
        var start = 0.0, length = t0, n = 0
        while t >= start + length {
            start += length
            length *= Double(config.tMult)
            n += 1
        }
        return (t - start, length, n)
    }
}

extension LRSchedule {
    /// The linear scaling rule (Goyal et al. 2017): lr * batchSize / referenceBatch when
    /// `referenceBatch` > 0, else lr.
    public static func effectiveBaseLR(config: OptimizerConfig, batchSize: Int) -> Double {
        config.referenceBatch > 0 ? config.lr * Double(batchSize) / Double(config.referenceBatch) : config.lr
    }
}

/// ⌊x⌋ as an Int for x ≥ 0, saturating at Int.max: a tiny `step_size` or `t_0` (a config
/// may hold 1e-320) makes the quotient infinite, and `Int(_:)` of that traps.
func wholeCount(_ x: Double) -> Int {
    guard x.isFinite, x < 9.2e18 else { return x.isNaN ? 0 : Int.max }
    return Int(max(x, 0).rounded(.down))
}
