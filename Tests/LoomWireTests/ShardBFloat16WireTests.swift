// Shard messages of a bf16 run (docs/PROTOCOL.md, "bf16 payloads"): gradient and weights
// slices travel at 2 bytes a value and widen to the same bits; the state (the float32
// master and the optimizer's slots) never does.

import LoomKernels
import LoomWire
import Testing

struct ShardBFloat16WireTests {
    private func slice(_ values: [Float], bf16: Bool) -> ShardMessage {
        var body = ShardBody(kind: .slice)
        body.shard = 0; body.lower = 32; body.upper = 32 + values.count
        return ShardMessage(runID: 9, step: 4, weightsVersion: 4, body: body, values: values, bf16: bf16)
    }

    private func gradient(_ values: [Float], bf16: Bool) -> ShardMessage {
        var body = ShardBody(kind: .gradient)
        body.first = 2; body.count = 2
        return ShardMessage(runID: 9, step: 4, weightsVersion: 4, body: body, values: values, bf16: bf16)
    }

    @Test func aBF16GradientSliceTakesTwoBytesAValueAndCrossesBitForBit() throws {
        // bf16 values (low halves zero), of both signs and several exponents.
        let values = (0..<1000).map { Float(bitPattern: UInt32(0x3C00_0000 &+ UInt32($0) &* 0x0003_0000) | ($0 % 3 == 0 ? 0x8000_0000 : 0)) }
        let bf16 = Message.shard(gradient(values, bf16: true)).encode()
        let fp32 = Message.shard(gradient(values, bf16: false)).encode()
        #expect(bf16[2].count == 2 * values.count && fp32[2].count == 4 * values.count)
        guard case .shard(let back) = try Message.decode(bf16, expectedRunID: 9) else {
            Issue.record("not a shard message"); return
        }
        #expect(back.bf16 && back.kind == .gradient)
        #expect(back.values.array.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func aBF16WeightsSliceIsTheRoundingOfTheFloat32Master() throws {
        // bf16's last place at 1 is 2^-7. 1 + 2^-8 + 2^-9 is past the tie: up; 1 + 2^-8 is a tie:
        // to even (1); 1 + 3·2^-8 is a tie: to even (1 + 2^-6); π to its nearest.
        let master: [Float] = [1 + 0x1p-8 + 0x1p-9, 1 + 0x1p-8, 1 + 3 * 0x1p-8, -3.14159]
        guard case .shard(let back) = try Message.decode(Message.shard(slice(master, bf16: true)).encode(), expectedRunID: 9) else {
            Issue.record("not a shard message"); return
        }
        #expect(back.values == [1 + 0x1p-7, 1, 1 + 0x1p-6, -3.140625])
        #expect(back.values.array.map(\.bitPattern) == BFloat16Codec.widen(BFloat16Codec.narrow(master)).map(\.bitPattern))
    }

    @Test func encodingFromABufferGivesTheFramesOfTheMessageWithThoseValues() {
        let gradient = (0..<100).map { Float($0) * 0.37 - 11 }
        for bf16 in [false, true] {
            let slice = Array(gradient[16..<80])
            let whole = Message.shard(self.gradient(slice, bf16: bf16)).encode()
            let fromBuffer = gradient.withUnsafeBufferPointer {
                self.gradient([], bf16: bf16).encode(values: UnsafeBufferPointer(rebasing: $0[16..<80]))
            }
            #expect(fromBuffer == whole, "bf16 \(bf16)")
        }
    }

    @Test func theStateNeverTravelsAsBF16() {
        var body = ShardBody(kind: .state)
        body.shard = 0; body.shards = 1; body.lower = 0; body.upper = 2
        body.optimizerStep = 0; body.slots = []; body.configYAML = "name: x"
        let state = ShardMessage(runID: 9, step: 4, weightsVersion: 4, body: body, values: [1, 2], bf16: true)
        #expect(throws: WireError.json(type: .shard, rule: "state: only gradient and slice values may travel as bf16")) {
            try Message.decode(Message.shard(state).encode(), expectedRunID: 9)
        }
    }

    @Test func aBF16SliceOfTheWrongSizeOrWithAnInfinityIsRejected() {
        var odd = Message.shard(gradient([1, 2, 3], bf16: true)).encode()
        odd[2].removeLast()
        var header = try! WireHeader(frame: odd[0])
        header.payloadBytes -= 1
        odd[0] = header.encode()
        #expect(throws: WireError.frameSize(type: .shard, frame: "2 (values)", bytes: 5, rule: "not a multiple of 2 bytes (bfloat16)")) {
            try Message.decode(odd, expectedRunID: 9)
        }
        // A slice of 3 values for [32, 36): R11.
        var short = slice([1, 2, 3, 4], bf16: true)
        short.values = FloatValues(Array(short.values.array.dropLast()))
        #expect(throws: WireError.self) { try Message.decode(Message.shard(short).encode(), expectedRunID: 9) }
        // Beyond the largest bf16 by more than half a place: Inf on the wire, refused (R12).
        #expect(throws: WireError.self) {
            try Message.decode(Message.shard(gradient([1, Float.greatestFiniteMagnitude], bf16: true)).encode(), expectedRunID: 9)
        }
    }
}
