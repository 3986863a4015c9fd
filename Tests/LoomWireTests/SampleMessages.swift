import LoomWire

/// One valid message of every type, with non-trivial field values.
enum SampleMessages {
    static let runID: UInt64 = 0x1234_5678_9ABC_DEF0

    static let hello = Hello(hostname: "node-7.cluster", pid: 4242, cores: 16,
                             datasetFingerprint: "sha256:abcdef", hasLocalData: true,
                             blasCore: "SkylakeX", kernelPath: "avx512")
    static let welcome = Welcome(runID: runID, configYAML: "training:\n  seed: 7\n  batch_size: 256\n",
                                 runJSON: #"{"heads":["category"]}"#)
    static let refusal = Refusal(runID: runID, reason: "dataset fingerprint differs")
    static let assignment = Assignment(runID: runID, step: 1_000_000_000_001, epoch: 3, weightsVersion: 77,
                                       firstShard: 8, shardSampleCounts: [2, 3, 1],
                                       sampleIndices: [10, 11, 500, 501, 502, Int.max - 1],
                                       sampleRecords: Array(0..<(6 * 5)).map { UInt8($0) },
                                       headScales: [0.5, 0.25])
    static let result = BlockResult(runID: runID, step: 12, epoch: 1, weightsVersion: 12, firstShard: 4, shardCount: 4,
                                    gradientSum: [0.5, -1.25, Float.leastNonzeroMagnitude, 3e38],
                                    batchNormStatistics: [1, 2, 3],
                                    metricSums: [0.693, 12.5], sampleCounts: [64, 60])
    static let weights = WeightsUpdate(runID: runID, step: 12, weightsVersion: 13,
                                       parameters: (0..<1000).map { Float($0) * 0.001 - 0.5 }, buffers: [0, 1])
    static let heartbeat = Heartbeat(runID: runID, step: 99, weightsVersion: 98)
    static let shutdown = Shutdown(runID: runID, reason: "training finished")

    /// The same with shared-memory payloads (R14) and the handshake fields that set them up.
    static let sharedHello = Hello(hostname: "node-7.cluster", pid: 4242, cores: 1, datasetFingerprint: "", hasLocalData: false,
                                   sharedMemory: SharedMemoryOffer(weightsToken: String(repeating: "ab", count: 16),
                                                                   resultsPath: "/dev/shm/loom-4242-results-0011223344aa",
                                                                   resultsToken: String(repeating: "0f", count: 16)),
                                   blasCore: "Zen", kernelPath: "avx2")
    static let sharedWelcome = Welcome(runID: runID, configYAML: "a: 1\n", runJSON: "{}",
                                       sharedWeightsPath: "/dev/shm/loom-17-weights-a1b2c3d4e5f6")
    static let sharedAssignment: Assignment = {
        var a = assignment
        a.sharedResult = true
        return a
    }()
    static let sharedResult: BlockResult = {
        var r = result
        r.gradientSum = []
        r.sharedGradient = SharedSlot(slot: 1, tag: 0xFEED_0000_0001)
        return r
    }()
    static let sharedWeights = WeightsUpdate(runID: runID, step: 12, weightsVersion: 13, parameters: [], buffers: [0, 1],
                                             shared: SharedSlot(slot: 0, tag: 14))

    static let evaluate = EvaluationRequest(runID: runID, weightsVersion: 40, chunk: 3, tta: false,
                                            sampleIndices: [7, 8, 9], images: Array(0..<(3 * 4)).map { UInt8($0) })
    static let evaluateTTA = EvaluationRequest(runID: runID, weightsVersion: 40, chunk: 0, tta: true,
                                               sampleIndices: [Int.max - 1], images: [1, 2, 3, 4])
    static let evaluation = EvaluationReply(runID: runID, weightsVersion: 40, chunk: 3, logits: [0.25, -3, 8, 1e-30])

    static let all: [Message] = [
        .hello(hello), .welcome(welcome), .refuse(refusal), .assignment(assignment),
        .result(result), .weights(weights), .heartbeat(heartbeat), .shutdown(shutdown),
        .hello(sharedHello), .welcome(sharedWelcome), .assignment(sharedAssignment), .result(sharedResult),
        .weights(sharedWeights), .evaluate(evaluate), .evaluate(evaluateTTA), .evaluation(evaluation),
    ]
}

/// The WireError thrown by decoding `frames`, or nil if they decode.
func decodeError(_ frames: [[UInt8]], expectedRunID: UInt64? = SampleMessages.runID) -> WireError? {
    do {
        _ = try Message.decode(frames, expectedRunID: expectedRunID)
        return nil
    } catch {
        return error
    }
}

/// `frames` with the header's field at `offset` replaced by `value` (little-endian).
func patchingHeader<T: FixedWidthInteger>(_ frames: [[UInt8]], at offset: Int, with value: T) -> [[UInt8]] {
    var copy = frames
    withUnsafeBytes(of: value.littleEndian) { raw in
        for i in 0..<raw.count { copy[0][offset + i] = raw[i] }
    }
    return copy
}
