// `bf16` payloads (docs/PROTOCOL.md, "bf16 payloads"): weights and gradient sums as 2-byte
// bfloat16 values, rounded to nearest even on the way out and widened exactly on receipt.

import LoomWire
import Testing

@Suite struct BFloat16WireTests {
    @Test func bf16WeightsTakeTwoBytesPerParameterAndWidenExactly() throws {
        let values: [Float] = [1, -2, 0.1, 3.0e38, 1e-40, 65504, -0.0, 1 + 0x1p-8]
        let update = WeightsUpdate(runID: 9, step: 3, weightsVersion: 3, parameters: values, buffers: [0.5], bf16: true)
        let frames = Message.weights(update).encode()
        #expect(frames[1].count == 2 * values.count)
        #expect(try WireHeader(frame: frames[0]).flags == WireHeader.bf16Flag)
        // 1.0 is 0x3F80; 1 + 2^-8 ties to the even 1.0; buffers stay float32.
        #expect(Array(frames[1][0..<2]) == [0x80, 0x3F] && Array(frames[1][14..<16]) == [0x80, 0x3F])
        #expect(frames[2].count == 4)
        guard case .weights(let decoded) = try Message.decode(frames, expectedRunID: 9) else { Issue.record("not weights"); return }
        var rounded = values
        BFloat16Codec.round(&rounded)
        #expect(decoded.parameters.map(\.bitPattern) == rounded.map(\.bitPattern))
        #expect(decoded.bf16 && decoded.buffers == [0.5])
        #expect(decoded.parameters[0] == 1 && decoded.parameters[1] == -2 && decoded.parameters[7] == 1)
    }

    @Test func bf16ValuesCrossUnchangedBitForBit() throws {
        var gradient = (0..<1001).map { Float($0) * 0.37 - 150 }
        BFloat16Codec.round(&gradient)
        let result = BlockResult(runID: 4, step: 1, epoch: 0, weightsVersion: 1, firstShard: 2, shardCount: 2,
                                 gradientSum: gradient, batchNormStatistics: [1, 2], metricSums: [0.5],
                                 sampleCounts: [2], bf16: true)
        let frames = Message.result(result).encode()
        #expect(frames[1].count == 2 * gradient.count)
        #expect(try Message.decode(frames, expectedRunID: 4) == .result(result))
    }

    @Test func bf16AndSharedTogetherAreRefused() {
        var frames = Message.weights(WeightsUpdate(runID: 9, step: 0, weightsVersion: 0, parameters: [1], buffers: [], bf16: true)).encode()
        frames[0][7] |= WireHeader.sharedFlag
        #expect(throws: WireError.nonZeroReserved(type: .weights, offset: 7)) { try Message.decode(frames, expectedRunID: 9) }
    }

    @Test func bf16OnAnAssignmentIsRefused() {
        var frames = Message.assignment(Assignment(runID: 9, step: 0, epoch: 0, weightsVersion: 0, firstShard: 0,
                                                   shardSampleCounts: [1], sampleIndices: [3])).encode()
        frames[0][7] = WireHeader.bf16Flag
        #expect(throws: WireError.nonZeroReserved(type: .assignment, offset: 7)) { try Message.decode(frames, expectedRunID: 9) }
    }

    @Test func anOddBF16FrameIsRefusedNamingIt() {
        var frames = Message.weights(WeightsUpdate(runID: 9, step: 0, weightsVersion: 0, parameters: [1, 2], buffers: [], bf16: true)).encode()
        frames[1].append(0)
        var header = try! WireHeader(frame: frames[0])
        header.payloadBytes += 1
        frames[0] = header.encode()
        #expect(throws: WireError.frameSize(type: .weights, frame: "1 (parameters)", bytes: 5, rule: "not a multiple of 2 bytes (bfloat16)")) {
            try Message.decode(frames, expectedRunID: 9)
        }
    }

    @Test func aBF16InfinityOrNaNIsRefusedAsNonFinite() {
        // Float32 values past bf16's range round to Inf on the way out: the receiver refuses them (R12).
        for bad: Float in [3.4e38, .nan, -.infinity] {
            let frames = Message.weights(WeightsUpdate(runID: 9, step: 0, weightsVersion: 0, parameters: [1, bad, 2],
                                                       buffers: [], bf16: true)).encode()
            #expect(throws: WireError.self) { try Message.decode(frames, expectedRunID: 9) }
            do { _ = try Message.decode(frames, expectedRunID: 9) } catch {
                guard case .nonFinite(_, _, let index, _, _, _) = error else { Issue.record("\(error)"); continue }
                #expect(index == 1)
            }
        }
    }
}
