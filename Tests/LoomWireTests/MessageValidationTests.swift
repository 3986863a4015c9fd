import LoomWire
import Testing

/// One test per decode rule (R1–R13 of docs/PROTOCOL.md): a valid message broken in
/// exactly one way is rejected with the error naming that rule.
@Suite struct MessageValidationTests {
    let heartbeat = Message.heartbeat(SampleMessages.heartbeat).encode()
    let result = Message.result(SampleMessages.result).encode()
    let assignment = Message.assignment(SampleMessages.assignment).encode()

    @Test func noFramesIsRejected() {
        #expect(decodeError([]) == .noFrames)
    }

    @Test func shortHeaderIsRejected() {
        #expect(decodeError([Array(heartbeat[0].prefix(63))]) == .headerSize(actual: 63))
    }

    @Test func wrongMagicIsRejected() {
        var frames = heartbeat
        frames[0][0] = UInt8(ascii: "X")
        guard case .badMagic = decodeError(frames) else { Issue.record("expected badMagic"); return }
    }

    @Test(arguments: [UInt16(1), 2, 4])
    func otherProtocolVersionIsRejected(version: UInt16) {
        // 1 is the version before shared-memory payloads, 2 the one before evaluation had its
        // own messages: their peers are refused, not misread.
        #expect(decodeError(patchingHeader(heartbeat, at: 4, with: version)) == .unsupportedVersion(version))
    }

    @Test(arguments: [UInt8(0), 12, 255])
    func unknownTypeIsRejected(type: UInt8) {
        #expect(decodeError(patchingHeader(heartbeat, at: 6, with: type)) == .unknownType(type))
    }

    @Test(arguments: [7, 46, 47, 56, 63])
    func nonZeroFlagsOrReservedBytesAreRejected(offset: Int) {
        #expect(decodeError(patchingHeader(heartbeat, at: offset, with: UInt8(1)))
                == .nonZeroReserved(type: .heartbeat, offset: offset))
    }

    @Test func wrongRunIDIsRejected() {
        guard case .runID(.result, 99, _) = decodeError(patchingHeader(result, at: 8, with: UInt64(99))) else {
            Issue.record("expected runID"); return
        }
    }

    @Test func helloWithRunIDIsRejected() {
        let hello = Message.hello(SampleMessages.hello).encode()
        guard case .runID(.hello, 5, _) = decodeError(patchingHeader(hello, at: 8, with: UInt64(5)), expectedRunID: nil) else {
            Issue.record("expected runID"); return
        }
    }

    @Test func welcomeWithZeroRunIDIsRejected() {
        let welcome = Message.welcome(Welcome(runID: 0, configYAML: "")).encode()
        guard case .runID(.welcome, 0, _) = decodeError(welcome, expectedRunID: nil) else {
            Issue.record("expected runID"); return
        }
    }

    @Test func headerClaimingHugePayloadIsRejectedBeforeTheFramesAreRead() {
        let claim = UInt64(1) << 62
        #expect(decodeError(patchingHeader(result, at: 48, with: claim))
                == .payloadTooLarge(type: .result, declaredBytes: claim, limit: WireHeader.maxPayloadBytes))
        // Even with no payload frames at all.
        #expect(decodeError([patchingHeader(result, at: 48, with: claim)[0]])
                == .payloadTooLarge(type: .result, declaredBytes: claim, limit: WireHeader.maxPayloadBytes))
    }

    @Test func missingPayloadFrameIsRejected() {
        #expect(decodeError(Array(result.dropLast()))
                == .frameCount(type: .result, declared: 4, received: 3, required: 4))
    }

    @Test func headerFrameCountDisagreeingWithTheTypeIsRejected() {
        let frames = patchingHeader(heartbeat, at: 44, with: UInt16(1)) + [[]]
        #expect(decodeError(frames) == .frameCount(type: .heartbeat, declared: 1, received: 1, required: 0))
    }

    @Test func truncatedPayloadFrameIsRejected() {
        var frames = result
        frames[1].removeLast()
        #expect(decodeError(frames) == .payloadSizeMismatch(
            type: .result, declaredBytes: UInt64(result.dropFirst().reduce(0) { $0 + $1.count }),
            receivedBytes: UInt64(result.dropFirst().reduce(0) { $0 + $1.count } - 1)))
    }

    @Test func gradientNotAMultipleOfFourBytesIsRejected() {
        var frames = result
        frames[1].removeLast()
        frames = patchingHeader(frames, at: 48, with: UInt64(frames.dropFirst().reduce(0) { $0 + $1.count }))
        guard case .frameSize(.result, let frame, 15, _) = decodeError(frames) else { Issue.record("expected frameSize"); return }
        #expect(frame.contains("gradient_sum"))
    }

    @Test func resultWithoutMicroShardsIsRejected() {
        guard case .shardRange(.result, 4, 0, _) = decodeError(patchingHeader(result, at: 36, with: UInt32(0))) else {
            Issue.record("expected shardRange"); return
        }
    }

    @Test func shardRangePastTwoToThe32IsRejected() {
        guard case .shardRange(.result, UInt32.max, 4, _) = decodeError(patchingHeader(result, at: 32, with: UInt32.max)) else {
            Issue.record("expected shardRange"); return
        }
    }

    @Test func heartbeatWithShardRangeIsRejected() {
        guard case .shardRange(.heartbeat, 0, 2, _) = decodeError(patchingHeader(heartbeat, at: 36, with: UInt32(2))) else {
            Issue.record("expected shardRange"); return
        }
    }

    @Test func assignmentCountsDisagreeingWithTheHeaderAreRejected() {
        // Header says 4 micro-shards, the counts frame holds 3.
        guard case .frameSize(.assignment, let frame, 12, _) = decodeError(patchingHeader(assignment, at: 36, with: UInt32(4))) else {
            Issue.record("expected frameSize"); return
        }
        #expect(frame.contains("shard_sample_counts"))
    }

    @Test func assignmentIndicesDisagreeingWithTheCountsAreRejected() {
        var a = SampleMessages.assignment
        a.sampleIndices.removeLast()
        a.sampleRecords = []
        guard case .frameSize(.assignment, let frame, 40, _) = decodeError(Message.assignment(a).encode()) else {
            Issue.record("expected frameSize"); return
        }
        #expect(frame.contains("sample_indices"))
    }

    @Test func assignmentWithAnEmptyMicroShardIsRejected() {
        let a = Assignment(runID: SampleMessages.runID, step: 0, epoch: 0, weightsVersion: 0, firstShard: 0,
                           shardSampleCounts: [1, 0], sampleIndices: [3])
        guard case .frameSize(.assignment, _, _, let rule) = decodeError(Message.assignment(a).encode()) else {
            Issue.record("expected frameSize"); return
        }
        #expect(rule.contains("micro-shard 1"))
    }

    @Test func assignmentRecordsOfUnequalSizeAreRejected() {
        var a = SampleMessages.assignment
        a.sampleRecords.removeLast()
        guard case .frameSize(.assignment, let frame, _, _) = decodeError(Message.assignment(a).encode()) else {
            Issue.record("expected frameSize"); return
        }
        #expect(frame.contains("sample_records"))
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteGradientIsRejectedWithItsStepAndShards(bad: Float) {
        var r = SampleMessages.result
        r.gradientSum[2] = bad
        #expect(decodeError(Message.result(r).encode()) == .nonFinite(
            type: .result, frame: "1 (gradient_sum)", index: 2, step: 12, firstShard: 4, shardCount: 4))
    }

    @Test func nonFiniteHeadScaleIsRejected() {
        var a = SampleMessages.assignment
        a.headScales[0] = .nan
        guard case .nonFinite(.assignment, "4 (head_scales)", 0, _, _, _) = decodeError(Message.assignment(a).encode()) else {
            Issue.record("expected nonFinite"); return
        }
    }

    @Test func nonFiniteMetricSumIsRejected() {
        var r = SampleMessages.result
        r.metricSums[1] = .nan
        guard case .nonFinite(.result, "3 (metric_sums)", 1, _, _, _) = decodeError(Message.result(r).encode()) else {
            Issue.record("expected nonFinite"); return
        }
    }

    @Test func nonFiniteWeightsAreRejected() {
        var w = SampleMessages.weights
        w.buffers[1] = .infinity
        guard case .nonFinite(.weights, "2 (buffers)", 1, _, _, _) = decodeError(Message.weights(w).encode()) else {
            Issue.record("expected nonFinite"); return
        }
    }

    @Test func malformedJSONIsRejected() {
        #expect(decodeError(jsonMessage(.refuse, #"{"reason": "#)) == .json(type: .refuse, rule: "not well-formed UTF-8 JSON"))
    }

    @Test func jsonThatIsNotAnObjectIsRejected() {
        #expect(decodeError(jsonMessage(.refuse, #"["reason"]"#)) == .json(type: .refuse, rule: "body is not a JSON object"))
    }

    @Test func helloMissingARequiredFieldIsRejected() {
        let body = #"{"protocol_version":1,"hostname":"a","pid":1,"cores":2,"has_local_data":false}"#
        #expect(decodeError(jsonMessage(.hello, body), expectedRunID: nil)
                == .json(type: .hello, rule: "missing required field \"dataset_fingerprint\""))
    }

    @Test func helloFieldOfTheWrongTypeIsRejected() {
        let body = #"{"protocol_version":1,"hostname":"a","pid":"one","cores":2,"dataset_fingerprint":"","has_local_data":false}"#
        guard case .json(.hello, let rule) = decodeError(jsonMessage(.hello, body), expectedRunID: nil) else {
            Issue.record("expected json"); return
        }
        #expect(rule.contains("pid"))
    }

    @Test func helloFieldOutOfRangeForItsTypeIsNamed() {
        let body = #"{"protocol_version":70000,"hostname":"a","pid":1,"cores":2,"dataset_fingerprint":"","has_local_data":false}"#
        #expect(decodeError(jsonMessage(.hello, body), expectedRunID: nil)
                == .json(type: .hello, rule: "field \"protocol_version\" has a value out of range for its type"))
    }

    @Test func helloWithZeroCoresIsRejected() {
        var hello = SampleMessages.hello
        hello.cores = 0
        #expect(decodeError(Message.hello(hello).encode(), expectedRunID: nil) == .json(type: .hello, rule: "cores 0 is not ≥ 1"))
    }

    @Test func helloAnnouncingAnotherProtocolVersionIsRejected() {
        var hello = SampleMessages.hello
        hello.protocolVersion = 1
        guard case .json(.hello, let rule) = decodeError(Message.hello(hello).encode(), expectedRunID: nil) else {
            Issue.record("expected json"); return
        }
        #expect(rule.contains("protocol_version"))
    }

    @Test func welcomeWithoutRunJSONDecodesWithAnEmptyOne() throws {
        let frames = jsonMessage(.welcome, #"{"config_yaml":"a: 1"}"#)
        #expect(try Message.decode(frames, expectedRunID: nil)
                == .welcome(Welcome(runID: SampleMessages.runID, configYAML: "a: 1", runJSON: "")))
    }

    @Test func unknownJSONFieldsAreIgnored() throws {
        let frames = jsonMessage(.shutdown, #"{"reason":"done","added_in_a_later_version":true}"#)
        #expect(try Message.decode(frames, expectedRunID: SampleMessages.runID)
                == .shutdown(Shutdown(runID: SampleMessages.runID, reason: "done")))
    }

    @Test func oversizedJSONIsRejected() {
        let body = #"{"reason":""# + String(repeating: "x", count: WireHeader.maxJSONBytes) + #""}"#
        guard case .frameSize(.refuse, _, _, _) = decodeError(jsonMessage(.refuse, body)) else {
            Issue.record("expected frameSize"); return
        }
    }

    @Test func errorDescriptionsNameTheRuleAndTheFrame() {
        var r = SampleMessages.result
        r.gradientSum[0] = .nan
        let text = decodeError(Message.result(r).encode())?.description ?? ""
        #expect(text.contains("gradient_sum") && text.contains("step 12") && text.contains("R12"))
    }

    /// A header of `type` with the run id of the samples and one JSON frame.
    private func jsonMessage(_ type: MessageType, _ json: String) -> [[UInt8]] {
        let body = Array(json.utf8)
        let header = WireHeader(type: type, runID: type == .hello ? 0 : SampleMessages.runID,
                                payloadFrameCount: 1, payloadBytes: UInt64(body.count))
        return [header.encode(), body]
    }
}
