// PyTorch default initialisation, drawn from keyed streams.
import LoomModel
import Testing

@Test func initialisationIsDeterministicForASeed() throws {
    let model = try referenceModel()
    #expect(model.initialParameters(seed: 5).parameters == model.initialParameters(seed: 5).parameters)
}

@Test func initialisationDiffersAcrossSeeds() throws {
    let model = try referenceModel()
    #expect(model.initialParameters(seed: 5).parameters != model.initialParameters(seed: 6).parameters)
}

@Test(arguments: [("c1.weight", 9), ("c1.bias", 9), ("c2.weight", 288), ("f1.weight", 3136), ("f2.bias", 128)])
func weightsAndBiasesAreUniformWithinOneOverRootFanIn(_ name: String, _ fanIn: Int) throws {
    let model = try referenceModel()
    let values = slice(model.initialParameters(seed: 1).parameters, model.parameters, name)
    let bound = 1 / Float(fanIn).squareRoot()
    let largest = values.map(abs).max() ?? 0
    #expect(largest <= bound)
    // Uniform draws fill the interval: the largest is near the bound, and both signs occur.
    #expect(largest > 0.8 * bound)
    #expect(values.contains { $0 < 0 } && values.contains { $0 > 0 })
}

@Test func batchNormStartsAsIdentityWithUnitRunningVariance() throws {
    let model = try referenceModel()
    let (parameters, buffers) = model.initialParameters(seed: 1)
    #expect(slice(parameters, model.parameters, "b1.weight").allSatisfy { $0 == 1 })
    #expect(slice(parameters, model.parameters, "b1.bias").allSatisfy { $0 == 0 })
    #expect(slice(buffers, model.buffers, "b2.running_mean").allSatisfy { $0 == 0 })
    #expect(slice(buffers, model.buffers, "b2.running_var").allSatisfy { $0 == 1 })
}
