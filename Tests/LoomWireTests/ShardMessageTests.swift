// The shard message (type 11): round trip, and the rules its decoding enforces.

import LoomWire
import Testing

struct ShardMessageTests {
    private func state(lower: Int, upper: Int, slots: [String], values: Int) -> ShardMessage {
        var body = ShardBody(kind: .state)
        body.shard = 1; body.shards = 2; body.lower = lower; body.upper = upper
        body.optimizerStep = 3; body.slots = slots; body.configYAML = "name: x"
        body.groups = [SliceGroup(lower: 0, upper: 4, lrScale: 0.5, weightDecay: false, trainsFrom: Int.max)]
        return ShardMessage(runID: 9, step: 7, weightsVersion: 7, body: body, values: (0..<values).map(Float.init))
    }

    @Test func aStateMessageRoundTrips() throws {
        let m = state(lower: 16, upper: 32, slots: ["exp_avg", "exp_avg_sq"], values: 48)
        #expect(try Message.decode(Message.shard(m).encode(), expectedRunID: 9) == .shard(m))
    }

    @Test func anUpdateCarriesTheLearningRateBitForBit() throws {
        var body = ShardBody(kind: .update)
        body.blocks = [0, 2, 2, 2]; body.leaves = 4; body.lrBits = (0.1 as Double).nextUp.bitPattern
        let m = ShardMessage(runID: 9, step: 5, weightsVersion: 5, body: body)
        guard case .shard(let back) = try Message.decode(Message.shard(m).encode(), expectedRunID: 9) else {
            Issue.record("not a shard message"); return
        }
        #expect(back.body.lrBits.map { Double(bitPattern: $0) } == (0.1 as Double).nextUp)
    }

    @Test func aStateWhoseValuesDoNotFitItsSliceAndSlotsIsRejected() {
        let m = state(lower: 16, upper: 32, slots: ["momentum_buffer"], values: 31)
        #expect(throws: WireError.self) { try Message.decode(Message.shard(m).encode(), expectedRunID: 9) }
    }

    @Test func onlyAServerHelloMayCarryRunZero() throws {
        var hello = ShardBody(kind: .serverHello)
        hello.endpoint = "tcp://10.0.0.7:5600"; hello.pid = 12; hello.hostname = "h"
        #expect(try Message.decode(Message.shard(ShardMessage(runID: 0, body: hello)).encode(), expectedRunID: 5)
                == .shard(ShardMessage(runID: 0, body: hello)))
        let pull = ShardMessage(runID: 0, weightsVersion: 3, body: ShardBody(kind: .pull))
        #expect(throws: WireError.self) { try Message.decode(Message.shard(pull).encode(), expectedRunID: nil) }
        // Another run's pull is refused as any message of another run is (R6).
        let other = ShardMessage(runID: 4, weightsVersion: 3, body: ShardBody(kind: .pull))
        #expect(throws: WireError.self) { try Message.decode(Message.shard(other).encode(), expectedRunID: 5) }
    }

    @Test func aNonFiniteGradientSliceIsRejected() {
        var body = ShardBody(kind: .gradient)
        body.first = 0; body.count = 1
        let m = ShardMessage(runID: 9, step: 1, weightsVersion: 1, body: body, values: [1, .nan])
        #expect(throws: WireError.self) { try Message.decode(Message.shard(m).encode(), expectedRunID: 9) }
    }

    @Test func aServerHelloWithoutAnEndpointIsRejected() {
        var hello = ShardBody(kind: .serverHello)
        hello.pid = 12
        #expect(throws: WireError.self) { try Message.decode(Message.shard(ShardMessage(runID: 0, body: hello)).encode(), expectedRunID: nil) }
    }
}

/// Overlap: a gradient may carry one range of the parameters, whose size its values must be.
struct ShardGradientRangeTests {
    private func gradient(lower: Int?, upper: Int?, values: Int) -> ShardMessage {
        var body = ShardBody(kind: .gradient)
        body.first = 2; body.count = 2; body.lower = lower; body.upper = upper
        return ShardMessage(runID: 9, step: 1, weightsVersion: 1, body: body, values: (0..<values).map(Float.init))
    }

    @Test func aGradientRangeRoundTrips() throws {
        let m = gradient(lower: 100, upper: 164, values: 64)
        #expect(try Message.decode(Message.shard(m).encode(), expectedRunID: 9) == .shard(m))
    }

    @Test(arguments: [(100, 164, 63), (100, 100, 0), (164, 100, 0), (-1, 10, 11), (nil, 10, 10)] as [(Int?, Int?, Int)])
    func aGradientRangeThatDoesNotFitItsValuesIsRejected(lower: Int?, upper: Int?, values: Int) {
        let m = gradient(lower: lower, upper: upper, values: values)
        #expect(throws: WireError.self) { try Message.decode(Message.shard(m).encode(), expectedRunID: 9) }
    }
}

/// Overlap: a server map may carry the slices' buckets, interior boundaries that ascend.
struct ShardMapBucketsTests {
    private func map(buckets: [Int]?) -> ShardMessage {
        var body = ShardBody(kind: .map)
        body.servers = [ServerAddress(endpoint: "tcp://10.0.0.1:5601", lower: 0, upper: 50),
                        ServerAddress(endpoint: "tcp://10.0.0.2:5601", lower: 50, upper: 100)]
        body.buckets = buckets
        return ShardMessage(runID: 9, weightsVersion: 2, body: body)
    }

    @Test func aMapWithBucketsRoundTrips() throws {
        let m = map(buckets: [18, 60])
        #expect(try Message.decode(Message.shard(m).encode(), expectedRunID: 9) == .shard(m))
        #expect(try Message.decode(Message.shard(map(buckets: nil)).encode(), expectedRunID: 9) == .shard(map(buckets: nil)))
    }

    @Test(arguments: [[0, 10], [10, 10], [30, 20], [-5]])
    func bucketsThatDoNotAscendFromAboveZeroAreRejected(buckets: [Int]) {
        #expect(throws: WireError.self) { try Message.decode(Message.shard(map(buckets: buckets)).encode(), expectedRunID: 9) }
    }
}
