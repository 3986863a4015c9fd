// optimizers.h5: six steps of SGD (momentum + L2, Nesterov), Adam and AdamW from `w0` with
// the stored gradients; our weights after every step must match PyTorch's.

import Foundation
import LoomConfig
import LoomTestSupport
import LoomTraining
import Testing

struct OptimizerFixtureTests {
    /// The optimizer config of a case, read from its `hyper` attribute (a Python dict repr).
    func config(_ f: FixtureFile, _ name: String) throws -> OptimizerConfig {
        let hyperAttribute = try f.string("hyper", on: name)
        let hyper = try #require(hyperAttribute)
        func number(_ key: String) throws -> Double {
            let text = pythonDictValue(hyper, key) ?? "missing"
            return try #require(Double(text), "hyper-parameter \(key) of \(name): \(text)")
        }
        var c = OptimizerConfig()
        c.lr = try number("lr")
        c.weightDecay = try number("weight_decay")
        if let betas = pythonDictValue(hyper, "betas") {
            let parts = betas.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            try #require(parts.count == 2)
            c.kind = pythonDictValue(hyper, "decoupled_weight_decay") == "True" ? .adamw : .adam
            c.beta1 = parts[0]; c.beta2 = parts[1]
            c.eps = try number("eps")
        } else {
            c.kind = .sgd
            c.momentum = try number("momentum")
            c.dampening = try number("dampening")
            c.nesterov = pythonDictValue(hyper, "nesterov") == "True"
        }
        return c
    }

    func check(_ name: String) throws {
        let f = try FixtureFile("optimizers.h5")
        let c = try config(f, name)
        var w = try f.floats("\(name)/w0")
        let grads = try f.floats("\(name)/grads")
        let after = try f.floats("\(name)/weights_after_each_step")
        let n = w.count
        let optimizer = try Optimizer(config: c, parameterCount: n)
        for step in 0..<(grads.count / n) {
            try optimizer.step(weights: &w, gradients: Array(grads[(step * n)..<((step + 1) * n)]), lr: c.lr)
            assertClose(w, Array(after[(step * n)..<((step + 1) * n)]), rtol: 1e-5, atol: 1e-7, "\(name) step \(step + 1)")
        }
        #expect(optimizer.state.step == grads.count / n)
    }

    @Test func sgdWithMomentumAndWeightDecayMatchesPyTorch() throws { try check("sgd_momentum0.9_wd1e-4_lr0.01") }
    @Test func sgdNesterovMatchesPyTorch() throws { try check("sgd_nesterov_momentum0.9_lr0.05") }
    @Test func adamMatchesPyTorch() throws { try check("adam_lr1e-2") }
    @Test func adamwMatchesPyTorch() throws { try check("adamw_lr1e-3_wd1e-2") }
    @Test func adamwWithCustomBetasAndEpsMatchesPyTorch() throws { try check("adamw_lr3e-3_b0.8_0.99_eps1e-6_wd0.1") }

    @Test func everyOptimizerCaseIsCovered() throws {
        let cases = try FixtureFile("optimizers.h5").children(".").sorted()
        #expect(cases == ["adam_lr1e-2", "adamw_lr1e-3_wd1e-2", "adamw_lr3e-3_b0.8_0.99_eps1e-6_wd0.1",
                          "sgd_momentum0.9_wd1e-4_lr0.01", "sgd_nesterov_momentum0.9_lr0.05"])
    }

    /// Checkpoint/resume: three steps, save state, restore into a fresh optimizer, three
    /// more steps — bitwise the same weights as six uninterrupted steps.
    @Test func restoredStateContinuesBitwiseIdentically() throws {
        let f = try FixtureFile("optimizers.h5")
        let name = "adamw_lr1e-3_wd1e-2"
        let c = try config(f, name)
        let w0 = try f.floats("\(name)/w0"), grads = try f.floats("\(name)/grads")
        let n = w0.count
        func g(_ s: Int) -> [Float] { Array(grads[(s * n)..<((s + 1) * n)]) }
        var straight = w0
        let a = try Optimizer(config: c, parameterCount: n)
        for s in 0..<6 { try a.step(weights: &straight, gradients: g(s), lr: c.lr) }
        var resumed = w0
        let first = try Optimizer(config: c, parameterCount: n)
        for s in 0..<3 { try first.step(weights: &resumed, gradients: g(s), lr: c.lr) }
        let second = try Optimizer(config: c, parameterCount: n)
        try second.restore(first.state)
        for s in 3..<6 { try second.step(weights: &resumed, gradients: g(s), lr: c.lr) }
        #expect(resumed == straight)
    }
}
