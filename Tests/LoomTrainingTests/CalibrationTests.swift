// Temperature scaling against the reference fit in calibration.h5, and on a case with a
// closed-form optimum.

import Foundation
import LoomTraining
import Testing

struct CalibrationTests {
    @Test func temperatureScalingMatchesTheReferenceFit() throws {
        let f = try FixtureFile("calibration.h5")
        let fit = try TemperatureScaling.fit(logits: try f.floats("logits"), labels: try f.ints("labels"))
        let expected = (t: try f.double("temperature"), nll0: try f.double("nll_before"), nll1: try f.double("nll_after"),
                        ece0: try f.double("ece15_before"), ece1: try f.double("ece15_after"))
        // The reference T (2.03470) stops short of the minimiser: in float64 the mean NLL is
        // 1.0541831 there and 1.0541825 at T = 2.03729, where our Newton fit lands. So we ask
        // for an NLL at least as low as the reference's and a T within 5e-3 of it.
        #expect(abs(fit.temperature - (expected.t ?? .nan)) <= 5e-3, "T = \(fit.temperature), reference \(expected.t ?? .nan)")
        #expect(abs(fit.nllBefore - (expected.nll0 ?? .nan)) <= 1e-3)
        #expect(fit.nllAfter <= (expected.nll1 ?? .nan) + 1e-7, "NLL \(fit.nllAfter), reference \(expected.nll1 ?? .nan)")
        #expect(abs(fit.nllAfter - (expected.nll1 ?? .nan)) <= 1e-3)
        #expect(abs(fit.eceBefore - (expected.ece0 ?? .nan)) <= 1e-3)
        #expect(abs(fit.eceAfter - (expected.ece1 ?? .nan)) <= 1e-3)
    }

    @Test func sigmoidTemperatureShrinksOverConfidentLogits() throws {
        // Logits 4x too large for labels that are right 3 times in 4.
        let logits: [Float] = Array(repeating: 8, count: 4) + Array(repeating: -8, count: 4)
        let targets: [Float] = [1, 1, 1, 0, 0, 0, 0, 1]
        let fit = try TemperatureScaling.fitSigmoid(logits: logits, targets: targets)
        // Optimum: sigmoid(8 / T) = 0.75, T = 8 / log 3.
        #expect(isClose(fit.temperature, 8 / log(3.0), rtol: 1e-6))
        #expect(fit.nllAfter < fit.nllBefore)
    }

    /// A softmax head of 2 classes and a multilabel head of 2 labels over 4 samples.
    private let twoHeads = [
        ResolvedHead(name: "category", kind: .softmax, attribute: "category", classes: 2, classNames: ["a", "b"], classWeights: nil),
        ResolvedHead(name: "tags", kind: .multilabel, attribute: "tags", classes: 2, classNames: ["x", "y"], classWeights: nil),
    ]
    private let twoHeadLogits: [[Float]] = [[4, -4, -4, 4, 4, -4, -4, 4], [8, -8, 8, -8, -8, 8, -8, 8]]

    @Test func aHeadWithNoLabelledElementIsSkippedAndTheOthersAreFitted() throws {
        let truth = GroundTruth(count: 4, labels: [[0, 1, 1, 0], [-1, -1, -1, -1]], targets: [[], Array(repeating: .nan, count: 8)])
        let fits = try TemperatureScaling.fitHeads(twoHeads, logits: twoHeadLogits, truth: truth)
        #expect(fits.count == 2)
        #expect(fits[1] == nil)
        let alone = try TemperatureScaling.fit(logits: twoHeadLogits[0], labels: truth.labels[0])
        #expect(fits[0] == alone)
    }

    @Test func fittingHeadsWhenNoHeadHasALabelledElementIsAnError() {
        let truth = GroundTruth(count: 4, labels: [[-1, -1, -1, -1], [-1, -1, -1, -1]], targets: [[], Array(repeating: .nan, count: 8)])
        #expect(throws: CalibrationError.self) {
            _ = try TemperatureScaling.fitHeads(twoHeads, logits: twoHeadLogits, truth: truth)
        }
    }

    @Test func calibratingWithoutLabelsIsAnError() {
        #expect(throws: CalibrationError.self) {
            _ = try TemperatureScaling.fit(logits: [1, 2, 3, 4], labels: [-1, -1])
        }
    }
}
