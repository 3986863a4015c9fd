/// One Loom protocol message, typed. `encode()` gives the multipart frames to send;
/// `Message.decode(_:expectedRunID:)` checks every rule of docs/PROTOCOL.md and is the only
/// way to turn received frames into a `Message`.
public enum Message: Equatable, Sendable {
    case hello(Hello)
    case welcome(Welcome)
    case refuse(Refusal)
    case assignment(Assignment)
    case result(BlockResult)
    case weights(WeightsUpdate)
    case heartbeat(Heartbeat)
    case shutdown(Shutdown)
    case evaluate(EvaluationRequest)
    case evaluation(EvaluationReply)
    case shard(ShardMessage)

    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .refuse: .refuse
        case .assignment: .assignment
        case .result: .result
        case .weights: .weights
        case .heartbeat: .heartbeat
        case .shutdown: .shutdown
        case .evaluate: .evaluate
        case .evaluation: .evaluation
        case .shard: .shard
        }
    }

    /// The run id carried in the header (0 for hello).
    public var runID: UInt64 { header(payload: []).runID }

    // MARK: - Encoding

    /// The frames of this message: the 64-byte header, then the payload frames of its type.
    /// Encoding does not validate: a message that breaks a rule is rejected by the receiver.
    public func encode() -> [[UInt8]] {
        let payload = payloadFrames()
        return [header(payload: payload).encode()] + payload
    }

    private func payloadFrames() -> [[UInt8]] {
        switch self {
        case .hello(let m): [jsonFrame(m)]
        case .welcome(let m):
            [jsonFrame(Welcome.Body(config_yaml: m.configYAML, run_json: m.runJSON,
                                    shared_weights_path: m.sharedWeightsPath.isEmpty ? nil : m.sharedWeightsPath))]
        case .refuse(let m): [jsonFrame(ReasonBody(reason: m.reason))]
        case .shutdown(let m): [jsonFrame(ReasonBody(reason: m.reason))]
        case .assignment(let m):
            [packFrame(m.shardSampleCounts), packFrame(m.sampleIndices.map { UInt64($0) }), m.sampleRecords,
             packFrame(m.headScales)]
        case .result(let m):
            [m.sharedGradient?.frame() ?? floatsFrame(m.gradientSum, bf16: m.bf16), packFrame(m.batchNormStatistics),
             packFrame(m.metricSums), packFrame(m.sampleCounts)]
        case .weights(let m): [m.shared?.frame() ?? floatsFrame(m.parameters, bf16: m.bf16), packFrame(m.buffers)]
        case .heartbeat: []
        case .evaluate(let m): [packFrame(m.sampleIndices.map { UInt64($0) }), m.images]
        case .evaluation(let m): [packFrame(m.logits)]
        case .shard(let m): [m.body.jsonFrame(), floatsFrame(m.values, bf16: m.bf16)]
        }
    }

    private func header(payload: [[UInt8]]) -> WireHeader {
        var h: WireHeader
        switch self {
        case .hello:
            h = WireHeader(type: .hello)
        case .welcome(let m):
            h = WireHeader(type: .welcome, runID: m.runID)
        case .refuse(let m):
            h = WireHeader(type: .refuse, runID: m.runID)
        case .shutdown(let m):
            h = WireHeader(type: .shutdown, runID: m.runID)
        case .assignment(let m):
            h = WireHeader(type: .assignment, runID: m.runID, step: m.step, weightsVersion: m.weightsVersion,
                           firstShard: m.firstShard, shardCount: UInt32(truncatingIfNeeded: m.shardSampleCounts.count),
                           epoch: m.epoch, flags: m.sharedResult ? WireHeader.sharedFlag : 0)
        case .result(let m):
            h = WireHeader(type: .result, runID: m.runID, step: m.step, weightsVersion: m.weightsVersion,
                           firstShard: m.firstShard, shardCount: m.shardCount, epoch: m.epoch,
                           flags: m.sharedGradient == nil ? (m.bf16 ? WireHeader.bf16Flag : 0) : WireHeader.sharedFlag)
        case .weights(let m):
            h = WireHeader(type: .weights, runID: m.runID, step: m.step, weightsVersion: m.weightsVersion,
                           flags: m.shared == nil ? (m.bf16 ? WireHeader.bf16Flag : 0) : WireHeader.sharedFlag)
        case .heartbeat(let m):
            h = WireHeader(type: .heartbeat, runID: m.runID, step: m.step, weightsVersion: m.weightsVersion)
        case .evaluate(let m):
            h = WireHeader(type: .evaluate, runID: m.runID, weightsVersion: m.weightsVersion, firstShard: m.chunk,
                           shardCount: 1, flags: m.tta ? WireHeader.ttaFlag : 0)
        case .evaluation(let m):
            h = WireHeader(type: .evaluation, runID: m.runID, weightsVersion: m.weightsVersion, firstShard: m.chunk,
                           shardCount: 1)
        case .shard(let m):
            h = WireHeader(type: .shard, runID: m.runID, step: m.step, weightsVersion: m.weightsVersion,
                           flags: m.bf16 ? WireHeader.bf16Flag : 0)
        }
        h.payloadFrameCount = UInt16(truncatingIfNeeded: payload.count)
        h.payloadBytes = payload.reduce(0) { $0 + UInt64($1.count) }
        return h
    }

    // MARK: - Decoding

    /// Validates `frames` (header first) against rules R1–R14 and returns the message.
    ///
    /// - Parameter expectedRunID: the run this receiver belongs to; nil before it knows
    ///   (a worker waiting for its welcome). A hello must always carry run id 0.
    public static func decode(_ frames: [[UInt8]], expectedRunID: UInt64?) throws(WireError) -> Message {
        guard let first = frames.first else { throw .noFrames }
        let header = try WireHeader(frame: first)                                  // R1–R5
        let type = header.type
        try checkRunID(header, expected: expectedRunID)                            // R6
        guard header.payloadBytes <= WireHeader.maxPayloadBytes else {             // R7
            throw .payloadTooLarge(type: type, declaredBytes: header.payloadBytes, limit: WireHeader.maxPayloadBytes)
        }
        let required = type.payloadFrameNames.count                                // R8
        guard Int(header.payloadFrameCount) == frames.count - 1, frames.count - 1 == required else {
            throw .frameCount(type: type, declared: Int(header.payloadFrameCount),
                              received: frames.count - 1, required: required)
        }
        let received = frames.dropFirst().reduce(UInt64(0)) { $0 + UInt64($1.count) }
        guard received == header.payloadBytes else {                               // R9
            throw .payloadSizeMismatch(type: type, declaredBytes: header.payloadBytes, receivedBytes: received)
        }
        try checkShardRange(header)                                                // R10
        let payload = PayloadReader(header: header, frames: Array(frames.dropFirst()))
        return try decodePayload(header, payload)                                  // R11–R14
    }

    private static func checkRunID(_ header: WireHeader, expected: UInt64?) throws(WireError) {
        switch header.type {
        case .hello:
            guard header.runID == 0 else { throw .runID(type: .hello, actual: header.runID, rule: "a hello must carry run id 0") }
        case .shard where header.runID == 0:
            break  // a server's hello, before it has a run; any other kind is checked when decoded
        case .welcome where header.runID == 0:
            throw .runID(type: .welcome, actual: 0, rule: "a welcome must carry a non-zero run id")
        default:
            if let expected, header.runID != expected {
                throw .runID(type: header.type, actual: header.runID, rule: "expected \(hex(expected))")
            }
        }
    }

    private static func checkShardRange(_ h: WireHeader) throws(WireError) {
        if h.type.carriesShardRange {
            guard h.shardCount >= 1 else {
                throw .shardRange(type: h.type, first: h.firstShard, count: h.shardCount, rule: "must hold at least one micro-shard")
            }
            guard UInt64(h.firstShard) + UInt64(h.shardCount) <= UInt64(UInt32.max) + 1 else {
                throw .shardRange(type: h.type, first: h.firstShard, count: h.shardCount, rule: "range ends past 2^32")
            }
        } else if h.firstShard != 0 || h.shardCount != 0 {
            throw .shardRange(type: h.type, first: h.firstShard, count: h.shardCount, rule: "must be empty for this type")
        }
    }

    private static func decodePayload(_ h: WireHeader, _ p: PayloadReader) throws(WireError) -> Message {
        switch h.type {
        case .hello:
            let hello = try p.json(0, as: Hello.self)
            try hello.validate()
            return .hello(hello)
        case .welcome:
            let body = try p.json(0, as: Welcome.Body.self)
            return .welcome(Welcome(runID: h.runID, configYAML: body.config_yaml, runJSON: body.run_json ?? "",
                                    sharedWeightsPath: body.shared_weights_path ?? ""))
        case .refuse:
            return .refuse(Refusal(runID: h.runID, reason: try p.json(0, as: ReasonBody.self).reason))
        case .shutdown:
            return .shutdown(Shutdown(runID: h.runID, reason: try p.json(0, as: ReasonBody.self).reason))
        case .assignment:
            return .assignment(try decodeAssignment(h, p))
        case .result:
            let shared = h.isShared ? try p.sharedSlot(0) : nil
            return .result(BlockResult(
                runID: h.runID, step: h.step, epoch: h.epoch, weightsVersion: h.weightsVersion,
                firstShard: h.firstShard, shardCount: h.shardCount,
                gradientSum: shared == nil ? try p.finiteFloats(0, bf16: h.isBF16) : [],
                batchNormStatistics: try p.finiteFloats(1),
                metricSums: try p.finiteDoubles(2), sampleCounts: try p.array(3, of: UInt64.self, elementName: "u64"),
                sharedGradient: shared, bf16: h.isBF16))
        case .weights:
            let shared = h.isShared ? try p.sharedSlot(0) : nil
            return .weights(WeightsUpdate(runID: h.runID, step: h.step, weightsVersion: h.weightsVersion,
                                          parameters: shared == nil ? try p.finiteFloats(0, bf16: h.isBF16) : [],
                                          buffers: try p.finiteFloats(1), shared: shared, bf16: h.isBF16))
        case .heartbeat:
            return .heartbeat(Heartbeat(runID: h.runID, step: h.step, weightsVersion: h.weightsVersion))
        case .evaluate:
            return .evaluate(try decodeEvaluate(h, p))
        case .evaluation:
            return .evaluation(EvaluationReply(runID: h.runID, weightsVersion: h.weightsVersion, chunk: h.firstShard,
                                               logits: try p.finiteFloats(0)))
        case .shard:
            return .shard(try ShardMessage.decode(h, p))
        }
    }

    /// R10-R11 for evaluation requests: one chunk, at least one sample, one equal-sized
    /// image per sample.
    private static func decodeEvaluate(_ h: WireHeader, _ p: PayloadReader) throws(WireError) -> EvaluationRequest {
        guard h.shardCount == 1 else {
            throw .shardRange(type: .evaluate, first: h.firstShard, count: h.shardCount, rule: "an evaluation request is one chunk")
        }
        let indices = try p.sampleIndices(0)
        guard !indices.isEmpty else {
            throw .frameSize(type: .evaluate, frame: p.name(0), bytes: 0, rule: "no samples to evaluate")
        }
        guard !p.frames[1].isEmpty, p.frames[1].count % indices.count == 0 else {
            throw .frameSize(type: .evaluate, frame: p.name(1), bytes: p.frames[1].count,
                             rule: "not one equal-sized image per sample (\(indices.count) samples)")
        }
        return EvaluationRequest(runID: h.runID, weightsVersion: h.weightsVersion, chunk: h.firstShard,
                                 tta: h.flags & WireHeader.ttaFlag != 0, sampleIndices: indices, images: p.frames[1])
    }

    /// R11 for assignments: one count per micro-shard, each ≥ 1, indices matching their sum,
    /// records empty or the same size for every sample.
    private static func decodeAssignment(_ h: WireHeader, _ p: PayloadReader) throws(WireError) -> Assignment {
        guard p.frames[0].count == 4 * Int(h.shardCount) else {
            throw .frameSize(type: .assignment, frame: p.name(0), bytes: p.frames[0].count,
                             rule: "expected 4 bytes (u32) per micro-shard, \(h.shardCount) micro-shards")
        }
        let counts = try p.array(0, of: UInt32.self, elementName: "u32")
        if let empty = counts.firstIndex(of: 0) {
            throw .frameSize(type: .assignment, frame: p.name(0), bytes: p.frames[0].count,
                             rule: "micro-shard \(empty) has no samples")
        }
        let total = counts.reduce(0) { $0 + Int($1) }    // < 2^28 counts · 2^32: fits Int64
        guard p.frames[1].count % 8 == 0, p.frames[1].count / 8 == total else {
            throw .frameSize(type: .assignment, frame: p.name(1), bytes: p.frames[1].count,
                             rule: "expected 8 bytes (u64) per sample, \(total) samples")
        }
        guard p.frames[2].count % total == 0 else {
            throw .frameSize(type: .assignment, frame: p.name(2), bytes: p.frames[2].count,
                             rule: "not one equal-sized record per sample (\(total) samples)")
        }
        return Assignment(runID: h.runID, step: h.step, epoch: h.epoch, weightsVersion: h.weightsVersion,
                          firstShard: h.firstShard, shardSampleCounts: counts,
                          sampleIndices: try p.sampleIndices(1),
                          sampleRecords: p.frames[2], headScales: try p.finiteFloats(3), sharedResult: h.isShared)
    }
}
