import LoomWire
import Testing
import LoomTestSupport

/// Random and mutated inputs must give a `Message` or a `WireError`, never a crash.
@Suite struct DecodeFuzzTests {

    @Test func randomFramesNeverCrashDecode() {
        var rng = TestRandom(seed: 20_240_601)
        var decoded = 0
        for _ in 0..<5000 {
            let frameCount = Int.random(in: 0...5, using: &rng)
            let frames = (0..<frameCount).map { _ in
                (0..<Int.random(in: 0...96, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            if (try? Message.decode(frames, expectedRunID: nil)) != nil { decoded += 1 }
        }
        #expect(decoded == 0)   // random bytes essentially never carry the magic
    }

    @Test func mutatedValidMessagesNeverCrashDecode() {
        var rng = TestRandom(seed: 7)
        var rejected = 0
        let valid = SampleMessages.all.map { $0.encode() }
        for i in 0..<5000 {
            var frames = valid[i % valid.count]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let f = Int.random(in: 0..<frames.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0 where !frames[f].isEmpty:   // flip a byte, often in the header
                    let limit = f == 0 ? 64 : frames[f].count
                    frames[f][Int.random(in: 0..<min(limit, frames[f].count), using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 1 where !frames[f].isEmpty:   // truncate
                    frames[f].removeLast(Int.random(in: 1...frames[f].count, using: &rng))
                case 2:                             // grow
                    frames[f] += (0..<Int.random(in: 1...9, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                default:                            // drop or duplicate a frame
                    if Bool.random(using: &rng) { frames.remove(at: f) } else { frames.append(frames[f]) }
                    if frames.isEmpty { frames = [[]] }
                }
            }
            if (try? Message.decode(frames, expectedRunID: SampleMessages.runID)) == nil { rejected += 1 }
        }
        #expect(rejected > 4000)
    }
}
