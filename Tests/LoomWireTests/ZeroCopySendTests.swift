import Foundation
import LoomKernels
import LoomWire
import Testing

/// Frames of 2 KiB and more leave a `ZeroMQTransport` without a copy: ZeroMQ reads them
/// from the sender's array until its I/O thread has written them. The sender's array must
/// stay what it was when sent, whatever the sender does with its variable afterwards.
@Suite(.serialized) struct ZeroCopySendTests {
    @Test(arguments: ["tcp://127.0.0.1:*", "ipc"])
    func aLargeFrameChangedOrDroppedAfterSendingArrivesAsItWasSent(endpoint: String) throws {
        let coordinator = try ZeroMQTransport.bind(endpoint: endpoint == "ipc" ? uniqueIPCEndpoint() : endpoint)
        defer { coordinator.close() }
        let worker = try ZeroMQTransport.connect(endpoint: coordinator.endpoint)
        defer { worker.close() }
        let peer = try #require(try handshake(coordinator: coordinator, worker: worker))
        _ = try worker.receive(timeout: .seconds(5))   // the welcome

        // Sizes around the zero-copy threshold, and one of 3 MB; each sent, then overwritten.
        let sizes = [2047, 2048, 2049, 65_536, 3_000_001]
        var sent: [[UInt8]] = []
        for (i, size) in sizes.enumerated() {
            var frame = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            sent.append(frame)
            try coordinator.send([[UInt8(i)], frame, [9, 9]], to: peer)
            for j in frame.indices { frame[j] = 0xAA }   // the caller's copy, changed at once
            frame = []
        }
        for (i, expected) in sent.enumerated() {
            let envelope = try #require(try worker.receive(timeout: .seconds(10)))
            #expect(envelope.frames == [[UInt8(i)], expected, [9, 9]], "frame of \(sizes[i]) bytes")
        }
    }

    @Test func oneEncodedFrameSentToSeveralPeersArrivesWholeAtEach() throws {
        let coordinator = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { coordinator.close() }
        let workers = try (0..<3).map { _ in try ZeroMQTransport.connect(endpoint: coordinator.endpoint) }
        defer { workers.forEach { $0.close() } }
        let peers = try workers.map { try #require(try handshake(coordinator: coordinator, worker: $0)) }
        for w in workers { _ = try w.receive(timeout: .seconds(5)) }
        // A server's weights range: encoded once, the same frames to every worker.
        var body = ShardBody(kind: .slice)
        body.shard = 1; body.lower = 100; body.upper = 100 + 40_000
        let values = (0..<40_000).map { Float($0) * 0.5 - 7 }
        let message = ShardMessage(runID: SampleMessages.runID, step: 3, weightsVersion: 3, body: body)
        let frames = values.withUnsafeBufferPointer { message.encode(values: $0) }
        for peer in peers { try coordinator.send(frames, to: peer) }
        var expected = message
        expected.values = FloatValues(values)
        for w in workers {
            let envelope = try #require(try w.receive(timeout: .seconds(10)))
            #expect(try Message.decode(envelope.frames, expectedRunID: SampleMessages.runID) == .shard(expected))
        }
    }
}
