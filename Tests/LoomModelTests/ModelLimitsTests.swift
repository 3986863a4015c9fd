// The whole model is bounded while it is built (ModelLimits): parameters, activations,
// FLOPs and the micro-batch workspace, with arithmetic that cannot overflow.
import LoomConfig
import LoomModel
import LoomTraining
import Testing

private func model(_ layers: String, input: String = "[1, 28, 28]", classes: Int = 10) throws -> Model {
    let config = try ConfigLoader.parse(yaml: """
        model:
          input: \(input)
          layers:
        \(layers)
        """, source: "limits.yaml", defaultName: "limits")
    var heads = config.heads
    for i in heads.indices { heads[i].classes = classes }
    return try Model(model: config.model, heads: heads)
}

private func tooLarge(_ body: () throws -> Model) -> String? {
    do {
        _ = try body()
        return nil
    } catch let error as ModelError {
        guard case .tooLarge = error else { return "not tooLarge: \(error)" }
        return error.description
    } catch {
        return "not a ModelError: \(error)"
    }
}

@Test func aLinearLayerPastTheParameterLimitIsNamed() throws {
    // 3136 inputs · 2^20 outputs = 3.3e9 parameters: each number within its key's limit.
    let message = try #require(tooLarge { try model("""
          - {kind: conv2d, name: c1, out: 4, padding: 1}
          - {kind: flatten}
          - {kind: linear, name: f1, out: \(ConfigLimits.width)}
        """) })
    #expect(message.contains("layer 'f1'"))
    #expect(message.contains("over the limit of \(ModelLimits.parameters)"))
}

@Test func productsThatWouldOverflowIntAreCaughtBeforeTheyAreFormed() throws {
    // 2^20 filters of 4096 × 4096 × 4096 channels: 2^68 weights, past 2^63 if formed.
    let message = try #require(tooLarge { try model("""
          - {kind: conv2d, name: c1, out: \(ConfigLimits.width), kernel: 4096, padding: 4096}
        """, input: "[4096, 64, 64]") })
    #expect(message.contains("model too large"))
}

@Test func anActivationPastTheLimitIsNamed() throws {
    let message = try #require(tooLarge { try model("""
          - {kind: conv2d, name: wide, out: 1048576, kernel: 1}
        """, input: "[1, 1024, 1024]") })
    #expect(message.contains("layer 'wide'"))
}

@Test func aModelWithinTheLimitsReportsItsWorkspace() throws {
    let m = try model("""
          - {kind: conv2d, name: c1, out: 8, padding: 1}
          - {kind: flatten}
        """)
    let bytes = try #require(m.workspaceBytes(batch: 16))
    #expect(bytes > 16 * 4 * 2 * (784 + 8 * 784))
    try m.checkWorkspace(batch: 16)
    #expect(m.workspaceBytes(batch: Int.max / 2) == nil)
    #expect(throws: ModelError.self) { try m.checkWorkspace(batch: Int.max / 2) }
}

@Test func aMicroBatchWhoseWorkspacePassesTheLimitIsAnError() throws {
    // 2^20 samples of a 28×28 input with a 64-channel convolution: ~0.5 TB of activations.
    let config = try ConfigLoader.parse(yaml: """
        model:
          input: [1, 28, 28]
          layers:
            - {kind: conv2d, name: c1, out: 64, padding: 1}
            - {kind: flatten}
        training: {batch_size: 1048576, micro_batch: 1048576}
        heads: [{name: category, classes: 10}]
        """, source: "limits.yaml", defaultName: "limits")
    let heads = [ResolvedHead(name: "category", kind: .softmax, attribute: "category", classes: 10,
                              classNames: [], classWeights: nil)]
    #expect {
        _ = try TrainingProblem(config: config, heads: heads, imageShape: .init(height: 28, width: 28, channels: 1))
    } throws: { error in
        guard case .model(.tooLarge(let what, _, _)) = error as? TrainingError else { return false }
        return what.contains("micro-batch of 1048576")
    }
}

@Test func headsWithMoreClassesThanTheWidthLimitAreRefused() throws {
    #expect(throws: ModelError.self) {
        _ = try model("""
              - {kind: flatten}
            """, classes: ConfigLimits.width + 1)
    }
}
