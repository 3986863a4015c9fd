// The kernels a worker computes with travel in its hello (blas_core, kernel_path): both are
// required, and must be short printable names, since the coordinator logs and compares them.

@testable import LoomWire
import Testing

struct HelloKernelsTests {
    @Test func theKernelsRoundTripAndAreSnakeCaseFields() throws {
        var hello = SampleMessages.hello
        hello.blasCore = "SkylakeX"
        hello.kernelPath = "avx512"
        let frames = Message.hello(hello).encode()
        let json = String(decoding: frames[1], as: UTF8.self)
        #expect(json.contains("\"blas_core\":\"SkylakeX\"") && json.contains("\"kernel_path\":\"avx512\""))
        #expect(try Message.decode(frames, expectedRunID: nil) == .hello(hello))
    }

    @Test func theKernelRevisionRoundTripsAndReadsZeroWhenAbsent() throws {
        var hello = SampleMessages.hello
        hello.kernelRevision = 7
        let frames = Message.hello(hello).encode()
        #expect(String(decoding: frames[1], as: UTF8.self).contains("\"kernel_revision\":7"))
        #expect(try Message.decode(frames, expectedRunID: nil) == .hello(hello))
        let body = #"{"protocol_version":3,"hostname":"a","pid":1,"cores":2,"dataset_fingerprint":"","has_local_data":false,"blas_core":"Zen","kernel_path":"sse2"}"#
        let header = WireHeader(type: .hello, runID: 0, payloadFrameCount: 1, payloadBytes: UInt64(body.utf8.count))
        guard case .hello(let old) = try Message.decode([header.encode(), Array(body.utf8)], expectedRunID: nil) else {
            Issue.record("a hello without kernel_revision still decodes"); return
        }
        #expect(old.kernelRevision == 0)
        hello.kernelRevision = -1
        #expect(decodeError(Message.hello(hello).encode(), expectedRunID: nil)
                == .json(type: .hello, rule: "kernel_revision -1 is not in 0...65535"))
    }

    @Test func aHelloWithoutTheKernelsIsRejected() {
        let body = #"{"protocol_version":3,"hostname":"a","pid":1,"cores":2,"dataset_fingerprint":"","has_local_data":false,"kernel_path":"sse2"}"#
        let header = WireHeader(type: .hello, runID: 0, payloadFrameCount: 1, payloadBytes: UInt64(body.utf8.count))
        #expect(decodeError([header.encode(), Array(body.utf8)], expectedRunID: nil) == .json(type: .hello, rule: "missing required field \"blas_core\""))
    }

    @Test(arguments: ["", "Sky lake", String(repeating: "x", count: 65), "Zen\u{7}"])
    func aKernelNameThatIsNotAShortPrintableWordIsRejected(name: String) {
        var hello = SampleMessages.hello
        hello.blasCore = name
        hello.kernelPath = "avx2"
        #expect(decodeError(Message.hello(hello).encode(), expectedRunID: nil)
                == .json(type: .hello, rule: "blas_core is not 1-64 printable ASCII characters without spaces"))
    }
}

/// Evaluation has its own messages (protocol version 3): no marker epoch, a `tta` flag that
/// only an evaluate request may carry, and sample indices that must fit an Int.
struct EvaluationMessageTests {
    @Test func theTTAFlagIsRefusedOnAnyOtherType() {
        var frames = Message.assignment(SampleMessages.assignment).encode()
        frames[0][7] = WireHeader.ttaFlag
        #expect(decodeError(frames) == .nonZeroReserved(type: .assignment, offset: 7))
    }

    @Test func anEvaluateRequestIsOneChunkWithOneImagePerSample() {
        var frames = Message.evaluate(SampleMessages.evaluate).encode()
        frames[2].removeLast()
        frames[0] = patchingHeader(frames, at: 48, with: UInt64(frames[1].count + frames[2].count))[0]
        #expect(decodeError(frames) == .frameSize(type: .evaluate, frame: "2 (images)", bytes: 11,
                                                  rule: "not one equal-sized image per sample (3 samples)"))
        let two = patchingHeader(Message.evaluate(SampleMessages.evaluate).encode(), at: 36, with: UInt32(2))
        #expect(decodeError(two) == .shardRange(type: .evaluate, first: 3, count: 2, rule: "an evaluation request is one chunk"))
    }

    @Test func aSampleIndexOfTwoToThe63IsRefusedNotTrapped() {
        var frames = Message.assignment(SampleMessages.assignment).encode()
        // The last index (8 bytes at the end of frame 2) becomes 2^63.
        let at = frames[2].count - 8
        for i in 0..<8 { frames[2][at + i] = i == 7 ? 0x80 : 0 }
        #expect(decodeError(frames) == .frameSize(type: .assignment, frame: "2 (sample_indices)", bytes: 48,
                                                  rule: "sample index 9223372036854775808 at position 5 is not below 2^63"))
    }

    @Test func aNonFiniteLogitIsRefused() {
        var reply = SampleMessages.evaluation
        reply.logits[2] = .nan
        #expect(decodeError(Message.evaluation(reply).encode())
                == .nonFinite(type: .evaluation, frame: "1 (logits)", index: 2, step: 0, firstShard: 3, shardCount: 1))
    }
}
