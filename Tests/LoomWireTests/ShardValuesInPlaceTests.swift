// A shard message's float32 values are read where the received frame holds them: decoding
// copies nothing, and the checks of R11 and R12 still name the frame and the element.

import LoomKernels
import LoomWire
import Testing

struct ShardValuesInPlaceTests {
    private func gradient(_ values: [Float]) -> ShardMessage {
        var body = ShardBody(kind: .gradient)
        body.first = 0; body.count = 1; body.lower = 64; body.upper = 64 + values.count
        return ShardMessage(runID: 5, step: 2, weightsVersion: 2, body: body, values: values)
    }

    @Test func aDecodedGradientReadsItsValuesFromTheFrame() throws {
        let values = (0..<5000).map { Float($0) * 0.25 - 600 }
        let frames = Message.shard(gradient(values)).encode()
        guard case .shard(let m) = try Message.decode(frames, expectedRunID: 5) else {
            Issue.record("not a shard message"); return
        }
        #expect(m.values.array.map(\.bitPattern) == values.map(\.bitPattern))
        let frame = frames[2].withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(m.values.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == frame)
        // Encoded again, the values frame is the received frame itself.
        let again = Message.shard(m).encode()
        #expect(again == frames)
        #expect(again[2].withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } == frame)
    }

    @Test func aNonFiniteValueOrAPartialFloatIsStillRefused() throws {
        var values = [Float](repeating: 1, count: 300)
        values[217] = .nan
        #expect(throws: WireError.nonFinite(type: .shard, frame: "2 (values)", index: 217, step: 2, firstShard: 0, shardCount: 0)) {
            try Message.decode(Message.shard(gradient(values)).encode(), expectedRunID: 5)
        }
        var frames = Message.shard(gradient([1, 2, 3])).encode()
        frames[2].removeLast()
        var header = try WireHeader(frame: frames[0])
        header.payloadBytes -= 1
        frames[0] = header.encode()
        #expect(throws: WireError.frameSize(type: .shard, frame: "2 (values)", bytes: 11, rule: "not a multiple of 4 bytes (float32)")) {
            try Message.decode(frames, expectedRunID: 5)
        }
    }
}
