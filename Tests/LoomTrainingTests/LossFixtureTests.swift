// Every `/losses/<case>` of layers.h5 against PyTorch: the mean loss within 1e-5 relative
// and the gradient of the MEAN (our dlogits of the sum / normaliser) within rtol 1e-4.

import LoomConfig
import LoomTestSupport
import LoomTraining
import Testing

struct LossFixtureTests {
    /// Runs `loss` on case `name` and compares loss and dlogits with PyTorch's.
    func check(_ name: String, _ loss: HeadLoss, classTargets: Bool) throws {
        let f = try FixtureFile("layers.h5")
        let base = "losses/\(name)"
        let logits = try f.floats("\(base)/logits")
        let (sums, d) = classTargets
            ? loss.evaluate(logits: logits, labels: try f.ints("\(base)/target"))
            : loss.evaluate(logits: logits, targets: try f.floats("\(base)/target"))
        let expected = Double(try f.floats("\(base)/loss")[0])
        #expect(isClose(sums.mean, expected, rtol: 1e-5), "\(name): loss \(sums.mean), PyTorch \(expected)")
        let meanGradient = d.map { Float(Double($0) / sums.normalizer) }
        assertClose(meanGradient, try f.floats("\(base)/dlogits"), rtol: 1e-4, atol: 1e-5, "\(name) dlogits")
    }

    @Test func softmaxCrossEntropyMatchesPyTorch() throws {
        try check("softmax_ce_mean", HeadLoss(kind: .softmax, config: LossConfig(), classes: 5), classTargets: true)
    }

    @Test func classWeightedCrossEntropyIsPyTorchsWeightedMean() throws {
        let w = try FixtureFile("layers.h5").floats("losses/weighted_ce_mean/class_weight").map(Double.init)
        let loss = try HeadLoss(kind: .softmax, config: LossConfig(), classes: 5, classWeights: w)
        try check("weighted_ce_mean", loss, classTargets: true)
    }

    @Test func softmaxFocalLossMatchesPyTorch() throws {
        let f = try FixtureFile("layers.h5")
        var config = LossConfig()
        config.kind = .focal
        let gamma = try f.double("gamma", on: "losses/softmax_focal_gamma2_mean")
        config.gamma = try #require(gamma)
        try check("softmax_focal_gamma2_mean", HeadLoss(kind: .softmax, config: config, classes: 5), classTargets: true)
    }

    @Test func bceWithLogitsMatchesPyTorch() throws {
        try check("bce_logits_mean", HeadLoss(kind: .multilabel, config: LossConfig(), classes: 6), classTargets: false)
    }

    @Test func bceWithPosWeightMatchesPyTorch() throws {
        var config = LossConfig()
        config.posWeight = try FixtureFile("layers.h5").floats("losses/bce_logits_posweight_mean/pos_weight").map(Double.init)
        try check("bce_logits_posweight_mean", HeadLoss(kind: .multilabel, config: config, classes: 6), classTargets: false)
    }

    @Test func sigmoidFocalLossMatchesTorchvision() throws {
        let f = try FixtureFile("layers.h5")
        let base = "losses/sigmoid_focal_a025_g2_mean"
        var config = LossConfig()
        config.kind = .focal
        let alpha = try f.double("alpha", on: base), gamma = try f.double("gamma", on: base)
        config.alpha = try #require(alpha)
        config.gamma = try #require(gamma)
        try check("sigmoid_focal_a025_g2_mean", HeadLoss(kind: .multilabel, config: config, classes: 6), classTargets: false)
    }

    @Test func meanSquaredErrorMatchesPyTorch() throws {
        var config = LossConfig()
        config.kind = .mse
        try check("mse_mean", HeadLoss(kind: .multilabel, config: config, classes: 4), classTargets: false)
    }

    @Test func everyLossCaseIsCovered() throws {
        let cases = try FixtureFile("layers.h5").children("losses").sorted()
        #expect(cases == ["bce_logits_mean", "bce_logits_posweight_mean", "mse_mean", "sigmoid_focal_a025_g2_mean",
                          "softmax_ce_mean", "softmax_focal_gamma2_mean", "weighted_ce_mean"])
    }
}
