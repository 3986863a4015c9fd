import LoomWire
import Testing

@Suite struct MessageRoundTripTests {
    @Test(arguments: SampleMessages.all)
    func everyMessageDecodesToItself(message: Message) throws {
        let decoded = try Message.decode(message.encode(), expectedRunID: SampleMessages.runID)
        #expect(decoded == message)
    }

    @Test(arguments: SampleMessages.all)
    func headerFrameIs64BytesAndDeclaresItsPayload(message: Message) throws {
        let frames = message.encode()
        let header = try WireHeader(frame: frames[0])
        #expect(frames[0].count == 64)
        #expect(header.type == message.type)
        #expect(Int(header.payloadFrameCount) == frames.count - 1)
        #expect(header.payloadBytes == UInt64(frames.dropFirst().reduce(0) { $0 + $1.count }))
    }

    @Test func headerStartsWithMagicAndVersionLittleEndian() {
        let frame = Message.heartbeat(SampleMessages.heartbeat).encode()[0]
        #expect(Array(frame[0..<7]) == [0x4C, 0x4F, 0x4F, 0x4D, 0x03, 0x00, MessageType.heartbeat.rawValue])
    }

    @Test func floatPayloadIsRawLittleEndianFloat32() {
        let message = Message.weights(WeightsUpdate(runID: 1, step: 0, weightsVersion: 1, parameters: [1.0, -2.0], buffers: []))
        #expect(message.encode()[1] == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
    }

    @Test func assignmentGivesTheSamplesOfEachMicroShard() {
        let a = SampleMessages.assignment
        #expect(Array(a.samples(ofShard: 0)) == [10, 11])
        #expect(Array(a.samples(ofShard: 1)) == [500, 501, 502])
        #expect(Array(a.samples(ofShard: 2)) == [Int.max - 1])
        #expect(a.recordSize == 5)
    }

    @Test func emptyGradientArraysRoundTrip() throws {
        let result = BlockResult(runID: 5, step: 0, epoch: 0, weightsVersion: 0, firstShard: 0, shardCount: 1,
                                 gradientSum: [], batchNormStatistics: [], metricSums: [], sampleCounts: [])
        #expect(try Message.decode(Message.result(result).encode(), expectedRunID: 5) == .result(result))
    }

    @Test func helloJSONUsesSnakeCaseFields() throws {
        let json = String(decoding: Message.hello(SampleMessages.hello).encode()[1], as: UTF8.self)
        #expect(json.contains("\"dataset_fingerprint\":\"sha256:abcdef\""))
        #expect(json.contains("\"has_local_data\":true"))
        #expect(json.contains("\"protocol_version\":3"))
    }

    @Test func workerBeforeWelcomeAcceptsAnyRunID() throws {
        let frames = Message.welcome(SampleMessages.welcome).encode()
        #expect(try Message.decode(frames, expectedRunID: nil) == .welcome(SampleMessages.welcome))
    }
}
