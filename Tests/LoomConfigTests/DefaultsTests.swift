// What a config that leaves keys out means.

import LoomConfig
import Testing

@Test func absentHeadsGiveOneSoftmaxCategoryHead() throws {
    let heads = try TestConfigs.parse(TestConfigs.minimal).heads
    #expect(heads == [HeadConfig(name: "category", kind: .softmax, attribute: "category", classes: 0,
                                 layer: "head.category")])
}

@Test func headLossStartsFromTheDefaultLoss() throws {
    let yaml = TestConfigs.minimal + """

        loss: {kind: focal, gamma: 3}
        heads:
          - {name: category, loss: {alpha: 0.25}}
        """
    let loss = try #require(try TestConfigs.parse(yaml).heads[0].loss)
    #expect(loss.kind == .focal && loss.gamma == 3 && loss.alpha == 0.25)
}

@Test func classWeightsAcceptEveryDocumentedForm() throws {
    func weights(_ text: String) throws -> LossConfig.ClassWeights {
        try TestConfigs.parse(TestConfigs.minimal + "\nloss: {class_weights: \(text)}").loss.classWeights
    }
    #expect(try weights("[1, 2.5]") == .given([1, 2.5]))
    #expect(try weights("inverse_frequency") == .inverseFrequency)
    #expect(try weights("effective_number") == .effectiveNumber(beta: 0.999))
    #expect(try weights("{effective_number: 0.99}") == .effectiveNumber(beta: 0.99))
}

@Test func listAlphaIsPerClass() throws {
    let loss = try TestConfigs.parse(TestConfigs.minimal + "\nloss: {kind: focal, alpha: [0.25, 0.75]}").loss
    #expect(loss.alpha == nil && loss.alphaPerClass == [0.25, 0.75])
}

@Test func poolingStrideDefaultsToItsKernel() throws {
    let yaml = TestConfigs.minimal.replacingOccurrences(of: "{kind: flatten}", with: "{kind: maxpool2d, kernel: 3}")
    let pool = try TestConfigs.parse(yaml).model.layers[0]
    #expect(pool.kernel == 3 && pool.stride == 3)
}

@Test func layerAndHeadRecordTheirLines() throws {
    let config = try TestConfigs.parse(TestConfigs.minimal + "\nheads:\n  - {name: category}")
    #expect(config.model.layers.map(\.line) == [5, 6])
    #expect(config.heads[0].line == 13)
}
