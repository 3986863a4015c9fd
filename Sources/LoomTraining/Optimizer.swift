// SGD, Adam and AdamW over one flat parameter buffer, with PyTorch's exact update rules.
//
// All parameters live in one flat Float buffer (see LoomModel's parameter table), so the
// optimizer sees one array of weights, one of gradients, and keeps its slots as arrays of
// the same length. Updates are computed element by element in Float32, as PyTorch's
// single-tensor CPU path does; scalars derived from hyper-parameters (bias corrections,
// step sizes) are computed in Double first, like PyTorch's Python floats.
//
// Per element i (g = gradient, w = weight, lr_i = lr * lrScale of i's group, wd = weight
// decay if i's group decays, else 0; t = step count after increment):
//
//   SGD:   d = g + wd w
//          b = d                           on the first step (momentum buffer init)
//          b = momentum b + (1 - dampening) d   afterwards
//          d = nesterov ? d + momentum b : b   (when momentum != 0)
//          w -= lr_i d
//   Adam:  g += wd w                        (L2 penalty folded into the gradient)
//   AdamW: w *= 1 - lr_i wd                 (decoupled decay, before the update)
//   both:  m = m + (1 - beta1)(g - m);  v = beta2 v + (1 - beta2) g^2
//          w -= (lr_i / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

import Foundation
import LoomKernels
import LoomConfig

/// A contiguous range of the flat parameter buffer sharing optimizer options
/// (PyTorch's parameter groups).
public struct ParameterGroup: Equatable, Sendable {
    /// Element range in the flat buffer.
    public var range: Range<Int>
    /// Multiplier on the scheduled learning rate (e.g. `trunk_lr_scale` for the trunk).
    public var lrScale: Double
    /// Whether weight decay applies (off for biases and norm parameters if configured).
    public var weightDecay: Bool
    /// The first step (0-based) that updates this group: before it the group is frozen,
    /// and neither its weights nor its slots change. Its own step count starts there (SGD's
    /// first-step rule, Adam's bias correction), as PyTorch's per-parameter state does for
    /// a parameter that had no gradient until then. `Int.max`: frozen for good.
    public var trainsFromStep: Int

    public init(range: Range<Int>, lrScale: Double = 1, weightDecay: Bool = true, trainsFromStep: Int = 0) {
        self.range = range; self.lrScale = lrScale; self.weightDecay = weightDecay
        self.trainsFromStep = trainsFromStep
    }
}

/// Optimizer state for checkpoints: named slots (flat, parameter-layout order) and the
/// number of steps taken. Slot names follow PyTorch: `momentum_buffer` (SGD with momentum),
/// `exp_avg` and `exp_avg_sq` (Adam, AdamW).
public struct OptimizerState: Equatable, Sendable {
    public var slots: [String: [Float]]
    public var step: Int
    public init(slots: [String: [Float]] = [:], step: Int = 0) { self.slots = slots; self.step = step }
}

/// Bad optimizer configuration, groups, or state to restore.
public struct OptimizerError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "optimizer: \(message)" }
}

/// One optimizer over a flat buffer of `parameterCount` Floats. Deterministic and
/// single-threaded: the same gradients give bitwise the same weights.
public final class Optimizer {
    public let config: OptimizerConfig
    public let parameterCount: Int
    public let groups: [ParameterGroup]
    /// Steps taken so far (PyTorch's `step` in the state of each parameter).
    public private(set) var stepCount: Int = 0
    /// `momentum_buffer` (SGD) or `exp_avg` (Adam/AdamW), nil when the rule has none.
    private var first: [Float]?
    /// `exp_avg_sq` (Adam/AdamW).
    private var second: [Float]?

    /// - groups: disjoint ranges inside 0..<parameterCount; elements outside every group
    ///   use lrScale 1 and weight decay on. Empty = one group over everything.
    public init(config: OptimizerConfig, parameterCount: Int,
                groups: [ParameterGroup] = []) throws(OptimizerError) {
        guard parameterCount >= 0 else { throw OptimizerError("negative parameter count \(parameterCount)") }
        guard config.lr.isFinite && config.lr >= 0 else { throw OptimizerError("lr must be finite and >= 0, got \(config.lr)") }
        guard config.weightDecay >= 0 else { throw OptimizerError("weight_decay must be >= 0, got \(config.weightDecay)") }
        switch config.kind {
        case .sgd:
            guard config.momentum >= 0 else { throw OptimizerError("momentum must be >= 0, got \(config.momentum)") }
            if config.nesterov && (config.momentum <= 0 || config.dampening != 0) {
                throw OptimizerError("nesterov needs momentum > 0 and dampening 0")
            }
        case .adam, .adamw:
            guard (0..<1).contains(config.beta1), (0..<1).contains(config.beta2) else {
                throw OptimizerError("betas must be in [0, 1), got (\(config.beta1), \(config.beta2))")
            }
            guard config.eps > 0 else { throw OptimizerError("eps must be > 0, got \(config.eps)") }
        }
        let sorted = groups.sorted { $0.range.lowerBound < $1.range.lowerBound }
        var end = 0
        for g in sorted {
            guard g.range.lowerBound >= end, g.range.upperBound <= parameterCount else {
                throw OptimizerError("parameter group \(g.range) overlaps another or leaves 0..<\(parameterCount)")
            }
            guard g.lrScale.isFinite && g.lrScale >= 0 else {
                throw OptimizerError("parameter group \(g.range) has lr scale \(g.lrScale)")
            }
            guard g.trainsFromStep >= 0 else {
                throw OptimizerError("parameter group \(g.range) trains from step \(g.trainsFromStep)")
            }
            end = g.range.upperBound
        }
        self.config = config
        self.parameterCount = parameterCount
        // Fill the gaps with default groups so that `step` walks one covering list.
        var covering: [ParameterGroup] = []
        var at = 0
        for g in sorted {
            if g.range.lowerBound > at { covering.append(ParameterGroup(range: at..<g.range.lowerBound)) }
            covering.append(g)
            at = g.range.upperBound
        }
        if at < parameterCount { covering.append(ParameterGroup(range: at..<parameterCount)) }
        self.groups = covering
        let zeros = [Float](repeating: 0, count: parameterCount)
        switch config.kind {
        case .sgd: first = config.momentum != 0 ? zeros : nil
        case .adam, .adamw: first = zeros; second = zeros
        }
    }

    /// Names of the slots this rule keeps, in a fixed order.
    public var slotNames: [String] {
        switch config.kind {
        case .sgd: return config.momentum != 0 ? ["momentum_buffer"] : []
        case .adam, .adamw: return ["exp_avg", "exp_avg_sq"]
        }
    }

    /// The state to checkpoint.
    public var state: OptimizerState {
        var slots: [String: [Float]] = [:]
        switch config.kind {
        case .sgd: if let b = first { slots["momentum_buffer"] = b }
        case .adam, .adamw: slots["exp_avg"] = first; slots["exp_avg_sq"] = second
        }
        return OptimizerState(slots: slots, step: stepCount)
    }

    /// Restores a checkpointed state; the slots must be exactly `slotNames`, each with
    /// `parameterCount` finite values.
    public func restore(_ state: OptimizerState) throws(OptimizerError) {
        guard state.step >= 0 else { throw OptimizerError("restored step count \(state.step) is negative") }
        let names = slotNames
        guard Set(state.slots.keys) == Set(names) else {
            throw OptimizerError("restored slots \(state.slots.keys.sorted()) but \(config.kind.rawValue) keeps \(names)")
        }
        for name in names {
            let s = state.slots[name]!
            guard s.count == parameterCount else {
                throw OptimizerError("slot '\(name)' has \(s.count) values, expected \(parameterCount)")
            }
            if let bad = s.firstIndex(where: { !$0.isFinite }) {
                throw OptimizerError("slot '\(name)' element \(bad) is \(s[bad])")
            }
        }
        stepCount = state.step
        switch config.kind {
        case .sgd: if !names.isEmpty { first = state.slots["momentum_buffer"] }
        case .adam, .adamw: first = state.slots["exp_avg"]; second = state.slots["exp_avg_sq"]
        }
    }

    /// Applies one update to `weights` (parameterCount) from `gradients` (parameterCount,
    /// already the MEAN gradient of the minibatch) with the scheduled learning rate `lr`.
    public func step(weights: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, lr: Double) {
        stepCount += 1
        // `stepCount - 1` is the index of this step.
        for g in groups where !g.range.isEmpty && stepCount - 1 >= g.trainsFromStep {
            let groupLR = lr * g.lrScale
            let wd = g.weightDecay ? config.weightDecay : 0
            let t = stepCount - g.trainsFromStep
            switch config.kind {
            case .sgd: sgd(weights, gradients, g.range, groupLR, wd, t)
            case .adam, .adamw: adam(weights, gradients, g.range, groupLR, wd, t, decoupled: config.kind == .adamw)
            }
        }
    }

    /// The update of the next step (`stepCount + 1`) on elements `elements` only, without
    /// advancing the step count: the optimizers are elementwise, so stepping a buffer range
    /// by range and then calling `finishStep()` once gives the bits of one `step` (overlap:
    /// a shard server updates each range as soon as its sum is complete).
    public func step(weights: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, lr: Double,
                     elements: Range<Int>) {
        let index = stepCount
        for g in groups where index >= g.trainsFromStep {
            let lower = max(g.range.lowerBound, elements.lowerBound), upper = min(g.range.upperBound, elements.upperBound)
            guard lower < upper else { continue }
            let groupLR = lr * g.lrScale
            let wd = g.weightDecay ? config.weightDecay : 0
            let t = index + 1 - g.trainsFromStep
            switch config.kind {
            case .sgd: sgd(weights, gradients, lower..<upper, groupLR, wd, t)
            case .adam, .adamw: adam(weights, gradients, lower..<upper, groupLR, wd, t, decoupled: config.kind == .adamw)
            }
        }
    }

    /// Counts the step whose ranges `step(weights:gradients:lr:elements:)` applied.
    public func finishStep() { stepCount += 1 }

    /// Array convenience for `step`; `weights` and `gradients` must hold `parameterCount` values.
    public func step(weights: inout [Float], gradients: [Float], lr: Double) throws(OptimizerError) {
        guard weights.count == parameterCount, gradients.count == parameterCount else {
            throw OptimizerError("step over \(weights.count) weights and \(gradients.count) gradients, expected \(parameterCount)")
        }
        weights.withUnsafeMutableBufferPointer { w in
            gradients.withUnsafeBufferPointer { g in
                if let wp = w.baseAddress, let gp = g.baseAddress { step(weights: wp, gradients: gp, lr: lr) }
                else { stepCount += 1 }
            }
        }
    }

    /// `t`: the group's own step count, this step included.
    private func sgd(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ range: Range<Int>,
                     _ lr: Double, _ wd: Double, _ t: Int) {
        let lrF = Float(lr), wdF = Float(wd)
        let mu = Float(config.momentum), keep = Float(1 - config.dampening)
        let firstStep = t == 1, nesterov = config.nesterov
        guard var buffer = first else {
            for i in range { w[i] -= lrF * (g[i] + wdF * w[i]) }
            return
        }
        // Move the slot out of the object while updating it: no copy, and no exclusivity
        // checks on `self` inside the loop.
        first = nil
        buffer.withUnsafeMutableBufferPointer { b in
            var i = range.lowerBound
            // The usual case at the host's width (CKernels): the same operations on every
            // element in the same order as the loop below (no fused multiply-add), so the
            // same bits. This runs on the coordinator between steps, while every worker waits.
            if !firstStep && !nesterov {
                sgdMomentumStep(weights: w + i, gradients: g + i, momentumBuffer: b.baseAddress! + i, count: range.count,
                                lr: lrF, weightDecay: wdF, momentum: mu, keep: keep)
                i = range.upperBound
            }
            while i < range.upperBound {
                var d = g[i] + wdF * w[i]
                b[i] = firstStep ? d : mu * b[i] + keep * d
                d = nesterov ? d + mu * b[i] : b[i]
                w[i] -= lrF * d
                i += 1
            }
        }
        first = buffer
    }

    private func adam(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ range: Range<Int>,
                      _ lr: Double, _ wd: Double, _ groupSteps: Int, decoupled: Bool) {
        let t = Double(groupSteps)
        let bias1 = 1 - pow(config.beta1, t)
        let bias2Sqrt = (1 - pow(config.beta2, t)).squareRoot()
        let stepSize = Float(lr / bias1)
        let b2Sqrt = Float(bias2Sqrt), eps = Float(config.eps)
        let oneMinusB1 = Float(1 - config.beta1), b2 = Float(config.beta2), oneMinusB2 = Float(1 - config.beta2)
        let decay = Float(1 - lr * wd), wdF = Float(wd)
        guard var mean = first, var square = second else { return }
        first = nil; second = nil
        let decoupledDecay = decoupled && wd != 0, l2 = !decoupled && wd != 0
        // Element by element in PyTorch's order, at the host's width (CKernels; the same
        // bits on every path: IEEE square root and division, no fused multiply-add).
        mean.withUnsafeMutableBufferPointer { m in
            square.withUnsafeMutableBufferPointer { v in
                let o = range.lowerBound
                adamStep(weights: w + o, gradients: g + o, mean: m.baseAddress! + o, square: v.baseAddress! + o,
                         count: range.count, decay: decay, weightDecay: wdF, oneMinusBeta1: oneMinusB1, beta2: b2,
                         oneMinusBeta2: oneMinusB2, bias2Sqrt: b2Sqrt, eps: eps, stepSize: stepSize,
                         decoupled: decoupledDecay, l2: l2)
            }
        }
        first = mean; second = square
    }
}
