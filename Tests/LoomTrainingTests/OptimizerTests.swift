// Optimizer behaviour beyond the fixtures: parameter groups and state validation.

import Foundation
import LoomConfig
import LoomTraining
import Testing

struct OptimizerTests {
    @Test func groupLearningRateScaleAndDecaySwitchApplyOnlyInsideTheGroup() throws {
        var c = OptimizerConfig()
        c.kind = .sgd; c.momentum = 0; c.weightDecay = 0.5
        let opt = try Optimizer(config: c, parameterCount: 4,
                                groups: [ParameterGroup(range: 2..<4, lrScale: 0.1, weightDecay: false)])
        var w: [Float] = [1, 1, 1, 1]
        try opt.step(weights: &w, gradients: [1, 1, 1, 1], lr: 1)
        // Default group: w -= 1 * (1 + 0.5 * 1); scaled group without decay: w -= 0.1 * 1.
        #expect(w == [-0.5, -0.5, 0.9, 0.9])
    }

    @Test func sgdFirstStepInitialisesMomentumBufferWithoutDampening() throws {
        var c = OptimizerConfig()
        c.kind = .sgd; c.momentum = 0.9; c.dampening = 0.5
        let opt = try Optimizer(config: c, parameterCount: 1)
        var w: [Float] = [0]
        try opt.step(weights: &w, gradients: [2], lr: 1)
        #expect(opt.state.slots["momentum_buffer"] == [2])
        try opt.step(weights: &w, gradients: [2], lr: 1)
        #expect(opt.state.slots["momentum_buffer"] == [Float(0.9) * 2 + Float(0.5) * 2])
    }

    /// The eight-lane momentum update gives the bits of the plain per-element loop (PyTorch's
    /// order: d = g + wd·w; b = μ·b + (1 − dampening)·d; w −= lr·b), for group ranges that
    /// start and end off a multiple of 8, over several steps.
    @Test func vectorisedMomentumStepHasTheBitsOfTheElementLoop() throws {
        var c = OptimizerConfig()
        c.kind = .sgd; c.momentum = 0.9; c.dampening = 0.1; c.weightDecay = 5e-4
        let n = 1003
        let opt = try Optimizer(config: c, parameterCount: n,
                                groups: [ParameterGroup(range: 5..<77, lrScale: 0.5, weightDecay: false)])
        var w = (0..<n).map { Float(sin(Double($0))) }
        var reference = w
        var buffer = [Float](repeating: 0, count: n)
        for step in 0..<5 {
            let g = (0..<n).map { Float(cos(Double($0 * (step + 3)))) * 0.01 }
            let lr = 0.05 / Double(step + 1)
            try opt.step(weights: &w, gradients: g, lr: lr)
            for i in 0..<n {
                let inGroup = (5..<77).contains(i)
                let lrF = Float(lr * (inGroup ? 0.5 : 1)), wd = Float(inGroup ? 0 : c.weightDecay)
                let d = g[i] + wd * reference[i]
                buffer[i] = step == 0 ? d : Float(c.momentum) * buffer[i] + Float(1 - c.dampening) * d
                reference[i] -= lrF * buffer[i]
            }
            #expect(w.map(\.bitPattern) == reference.map(\.bitPattern), "step \(step)")
        }
        #expect(opt.state.slots["momentum_buffer"]?.map(\.bitPattern) == buffer.map(\.bitPattern))
    }

    @Test func overlappingGroupsAreRejected() {
        #expect(throws: OptimizerError.self) {
            _ = try Optimizer(config: OptimizerConfig(), parameterCount: 10,
                              groups: [ParameterGroup(range: 0..<6), ParameterGroup(range: 5..<10)])
        }
    }

    @Test func restoringSlotsOfTheWrongSizeIsRejectedWithTheSlotName() throws {
        var c = OptimizerConfig()
        c.kind = .adam
        let opt = try Optimizer(config: c, parameterCount: 3)
        let bad = OptimizerState(slots: ["exp_avg": [0, 0, 0], "exp_avg_sq": [0, 0]], step: 2)
        #expect { try opt.restore(bad) } throws: { error in
            "\(error)".contains("exp_avg_sq") && "\(error)".contains("2 values")
        }
    }

    @Test func restoringSlotsOfAnotherOptimizerIsRejected() throws {
        let opt = try Optimizer(config: OptimizerConfig(), parameterCount: 2)
        #expect(throws: OptimizerError.self) {
            try opt.restore(OptimizerState(slots: ["exp_avg": [0, 0], "exp_avg_sq": [0, 0]], step: 1))
        }
    }
}
