// Loss behaviour the fixtures do not pin down: label smoothing, masking, sums that add up
// across micro-shards, the weighted-CE normaliser, and config validation.

import LoomConfig
import LoomTraining
import Testing

struct LossTests {
    func crossEntropy(smoothing: Double = 0, weights: [Double]? = nil, classes: Int = 3) throws -> HeadLoss {
        var c = LossConfig()
        c.labelSmoothing = smoothing
        return try HeadLoss(kind: .softmax, config: c, classes: classes, classWeights: weights)
    }

    /// PyTorch: (1 - eps) nll + eps mean_k(-log p_k); for z = (1, 2, 3), y = 0, eps = 0.1
    /// (values from numpy).
    @Test func labelSmoothingFollowsPyTorchsDefinition() throws {
        let (sums, d) = try crossEntropy(smoothing: 0.1).evaluate(logits: [1, 2, 3], labels: [0])
        #expect(isClose(sums.loss, 2.30760596444438, rtol: 1e-12))
        #expect(sums.normalizer == 1)
        let expected: [Double] = [-0.8433027601629529, 0.21139513772146437, 0.6319076224414887]
        for j in 0..<3 { #expect(isClose(Double(d[j]), expected[j], rtol: 1e-6)) }
    }

    @Test func unlabelledRowsAddNothingToLossNormaliserOrGradient() throws {
        let loss = try crossEntropy()
        let (masked, d) = loss.evaluate(logits: [1, 2, 3, 9, 9, 9, 0, 1, 0], labels: [2, -1, 1])
        let (plain, _) = loss.evaluate(logits: [1, 2, 3, 0, 1, 0], labels: [2, 1])
        #expect(masked == plain)
        #expect(Array(d[3..<6]) == [0, 0, 0])
    }

    @Test func missingMultilabelTargetsAreMaskedPerElement() throws {
        let loss = try HeadLoss(kind: .multilabel, config: LossConfig(), classes: 2)
        let (sums, d) = loss.evaluate(logits: [0.5, -1, 2, 3], targets: [1, .nan, .nan, .nan])
        #expect(sums.normalizer == 1 && sums.labelledRows == 1)
        #expect(d[1] == 0 && d[2] == 0 && d[3] == 0 && d[0] != 0)
    }

    @Test func microShardSumsAddUpToTheWholeBatch() throws {
        let loss = try crossEntropy(smoothing: 0.05, weights: [1, 2, 0.5])
        let logits: [Float] = [0.3, -1, 2, 1, 1, 1, -2, 0.5, 0.1, 4, -3, 0]
        let labels: [Int32] = [2, 0, 1, 0]
        let (whole, dWhole) = loss.evaluate(logits: logits, labels: labels)
        let (a, dA) = loss.evaluate(logits: Array(logits[0..<6]), labels: Array(labels[0..<2]))
        let (b, dB) = loss.evaluate(logits: Array(logits[6...]), labels: Array(labels[2...]))
        #expect(isClose((a + b).loss, whole.loss, rtol: 1e-12))
        #expect((a + b).normalizer == whole.normalizer)
        #expect(dA + dB == dWhole)
    }

    @Test func weightedCrossEntropyNormalisesBySumOfTargetWeights() throws {
        let (sums, _) = try crossEntropy(weights: [1, 2, 0.5]).evaluate(logits: [0, 0, 0, 0, 0, 0], labels: [1, 2])
        #expect(sums.normalizer == 2.5)
    }

    @Test func binaryHeadReadsClassLabelsAsZeroOrOne() throws {
        let loss = try HeadLoss(kind: .binary, config: LossConfig(), classes: 1)
        let (sums, d) = loss.evaluate(logits: [0, 0, 5], labels: [1, 0, -1])
        #expect(sums.normalizer == 2)
        #expect(d == [-0.5, 0.5, 0])
    }

    @Test func classWeightsOfTheWrongLengthAreRejected() {
        #expect(throws: LossError.self) { _ = try crossEntropy(weights: [1, 2]) }
    }

    @Test func softmaxFocalWithGammaZeroIsCrossEntropy() throws {
        var c = LossConfig()
        c.kind = .focal; c.gamma = 0
        let focal = try HeadLoss(kind: .softmax, config: c, classes: 3)
        let logits: [Float] = [0.3, -1, 2, 1, 1, 1]
        let (f, df) = focal.evaluate(logits: logits, labels: [0, 2])
        let (ce, dce) = try crossEntropy().evaluate(logits: logits, labels: [0, 2])
        #expect(isClose(f.loss, ce.loss, rtol: 1e-12))
        for j in 0..<6 { #expect(isClose(Double(df[j]), Double(dce[j]), rtol: 1e-6, atol: 1e-7)) }
    }
}

struct ClassWeightsTests {
    /// Histogram (6, 3, 1) over 10 labelled rows (two rows unlabelled).
    let labels: [Int32] = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, -1, -1]

    @Test func inverseFrequencyIsBalancedWeighting() throws {
        let w = try #require(try ClassWeights.compute(labels: labels, classes: 3, method: .inverseFrequency))
        let expected = [10.0 / 18, 10.0 / 9, 10.0 / 3]
        for c in 0..<3 { #expect(isClose(w[c], expected[c], rtol: 1e-12)) }
    }

    /// (1 - 0.9) / (1 - 0.9^n) normalised to mean 1 (values from numpy).
    @Test func effectiveNumberFollowsCuiEtAlNormalisedToMeanOne() throws {
        let w = try #require(try ClassWeights.compute(labels: labels, classes: 3, method: .effectiveNumber(beta: 0.9)))
        let expected = [0.4046076721706796, 0.6995666651831053, 1.8958256626462149]
        for c in 0..<3 { #expect(isClose(w[c], expected[c], rtol: 1e-12)) }
    }

    @Test func classAbsentFromTrainingGetsAFiniteWeight() throws {
        let w = try #require(try ClassWeights.compute(labels: [0, 0, 1], classes: 3, method: .inverseFrequency))
        #expect(w.allSatisfy { $0.isFinite } && w[2] == 1)
    }

    @Test func labelOutsideTheClassesIsAnErrorNamingTheRow() {
        #expect { _ = try ClassWeights.compute(labels: [0, 5], classes: 3, method: .inverseFrequency) } throws: {
            "\($0)".contains("row 1")
        }
    }

    @Test func noneGivesNoWeights() throws {
        #expect(try ClassWeights.compute(labels: labels, classes: 3, method: .none) == nil)
    }
}
