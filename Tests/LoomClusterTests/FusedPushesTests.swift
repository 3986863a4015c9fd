// A worker's small gradient ranges wait for the next one (overlap): which ranges go out
// together, and that every element goes out once.

@testable import LoomCluster
import Testing

struct FusedPushesTests {
    /// The reference CNN's layers as its backward pass reports them: f2, f1, b2, c2, b1, c1.
    private let order: [(parameters: Range<Int>, flops: Int)] = [
        (420_544..<421_834, 2_560), (19_008..<420_544, 802_816), (18_880..<19_008, 0), (384..<18_880, 7_225_344),
        (320..<384, 0), (0..<320, 451_584)]

    private func pushes(buckets: [Int]) -> [Range<Int>] {
        var fused = FusedPushes(buckets: buckets, order: order)
        var out: [Range<Int>] = []
        let push = { (range: Range<Int>) -> Bool in out.append(range); return true }
        for (range, _) in order {
            let added = fused.add(range, push: push)
            #expect(added)
        }
        let finished = fused.finish(push: push)
        #expect(finished)
        // Every element goes out once.
        #expect(out.map(\.count).reduce(0, +) == 421_834 && ElementRangesCheck.disjoint(out))
        return out
    }

    @Test func theHeadWaitsForF1AndTheBatchNormsComeWithTheirLayers() {
        // One bucket: f2 waits for f1, f1 for b2 (no FLOPs, comes at once), c2 for b1; c1 alone.
        #expect(pushes(buckets: []) == [18_880..<421_834, 320..<18_880, 0..<320])
    }

    @Test func nothingWaitsAcrossABucketsEdge() {
        // Buckets [0, 18 880) and [18 880, P): b2 and f1 still go together (same bucket).
        #expect(pushes(buckets: [18_880]) == [18_880..<421_834, 320..<18_880, 0..<320])
        // An edge between f1 and b2: f1 goes with f2 but without b2, which waits for c2.
        #expect(pushes(buckets: [19_008]) == [19_008..<421_834, 320..<19_008, 0..<320])
    }

    @Test func aRangeThatIsNotTheOneExpectedSendsWhatWaitedFirst() {
        var fused = FusedPushes(buckets: [], order: order)
        var out: [Range<Int>] = []
        let push = { (range: Range<Int>) -> Bool in out.append(range); return true }
        _ = fused.add(420_544..<421_834, push: push)
        #expect(out.isEmpty)
        _ = fused.add(0..<320, push: push)
        #expect(out == [420_544..<421_834, 0..<320])
    }
}

/// Whether ranges overlap nowhere.
enum ElementRangesCheck {
    static func disjoint(_ ranges: [Range<Int>]) -> Bool {
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        return zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound <= $1.lowerBound }
    }
}
