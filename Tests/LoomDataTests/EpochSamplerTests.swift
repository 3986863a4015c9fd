import LoomConfig
import LoomData
import Testing

@Suite struct EpochSamplerTests {
    let indices = Array(0..<1000).filter { $0 % 3 != 0 }   // a carved subset, not 0..<N

    @Test func sameSeedAndEpochGiveSameBatches() {
        let a = EpochSampler(indices: indices, batchSize: 32, seed: 5)
        let b = EpochSampler(indices: indices, batchSize: 32, seed: 5)
        for step in [0, 7, a.stepsPerEpoch - 1] {
            #expect(a.batch(epoch: 3, step: step) == b.batch(epoch: 3, step: step))
        }
    }

    @Test func batchesDoNotDependOnCallOrder() {
        let a = EpochSampler(indices: indices, batchSize: 32, seed: 5)
        let b = EpochSampler(indices: indices, batchSize: 32, seed: 5)
        let late = a.batch(epoch: 4, step: 9)
        _ = b.batch(epoch: 1, step: 0)
        _ = b.batch(epoch: 7, step: 3)
        #expect(b.batch(epoch: 4, step: 9) == late)
    }

    @Test func differentEpochsHaveDifferentOrders() {
        let s = EpochSampler(indices: indices, batchSize: 32, seed: 5)
        #expect(s.epochOrder(epoch: 0) != s.epochOrder(epoch: 1))
        #expect(s.batch(epoch: 0, step: 0) != s.batch(epoch: 1, step: 0))
    }

    @Test func differentSeedsHaveDifferentOrders() {
        let a = EpochSampler(indices: indices, batchSize: 32, seed: 5)
        let b = EpochSampler(indices: indices, batchSize: 32, seed: 6)
        #expect(a.epochOrder(epoch: 0) != b.epochOrder(epoch: 0))
    }

    @Test func everyIndexAppearsExactlyOncePerEpoch() {
        let s = EpochSampler(indices: indices, batchSize: 32, seed: 5)
        #expect(s.epochOrder(epoch: 2).sorted() == indices)
        let served = (0..<s.stepsPerEpoch).flatMap { s.batch(epoch: 2, step: $0) }
        #expect(Set(served).count == served.count)
        #expect(served.count == s.stepsPerEpoch * 32)
    }

    @Test func lastIncompleteBatchIsDropped() {
        let s = EpochSampler(indices: Array(0..<100), batchSize: 32, seed: 1)
        #expect(s.stepsPerEpoch == 3)
        #expect(s.batch(epoch: 0, step: 2).count == 32)
        #expect(s.batch(epoch: 0, step: 3).isEmpty)
    }

    /// Labels with a 90/9/1 % imbalance over 0..<N; every 50th sample unlabelled.
    func imbalancedLabels(_ n: Int) -> [Int32] {
        (0..<n).map { i in i % 50 == 0 ? -1 : (i % 100 < 90 ? 0 : (i % 100 < 99 ? 1 : 2)) }
    }

    func classShares(_ order: [Int], labels: [Int32]) -> [Int32: Double] {
        var counts: [Int32: Int] = [:]
        for i in order { counts[labels[i], default: 0] += 1 }
        return counts.mapValues { Double($0) / Double(order.count) }
    }

    @Test func uniformOversamplingEqualisesClassFrequencies() {
        let labels = imbalancedLabels(20000)
        let s = EpochSampler(indices: Array(0..<20000), batchSize: 100, seed: 3, oversample: (labels, .uniform))
        let shares = classShares(s.epochOrder(epoch: 0), labels: labels)
        for c: Int32 in 0...2 { #expect(abs(shares[c]! - 0.98 / 3) < 0.02, "class \(c): \(shares[c]!)") }
    }

    @Test func sqrtOversamplingFollowsSquareRootOfCounts() {
        let labels = imbalancedLabels(20000)
        let counts = (0...2).map { c in Double(labels.filter { $0 == Int32(c) }.count) }
        let roots = counts.map { $0.squareRoot() }
        let s = EpochSampler(indices: Array(0..<20000), batchSize: 100, seed: 3, oversample: (labels, .sqrt))
        let shares = classShares(s.epochOrder(epoch: 0), labels: labels)
        for c in 0...2 {
            let expected = 0.98 * roots[c] / roots.reduce(0, +)
            #expect(abs(shares[Int32(c)]! - expected) < 0.02, "class \(c): \(shares[Int32(c)]!) vs \(expected)")
        }
    }

    @Test func oversamplingKeepsUnlabelledAtTheirNaturalRate() {
        let labels = imbalancedLabels(20000)
        let s = EpochSampler(indices: Array(0..<20000), batchSize: 100, seed: 3, oversample: (labels, .uniform))
        let shares = classShares(s.epochOrder(epoch: 1), labels: labels)
        #expect(abs(shares[-1]! - 0.02) < 0.005)
    }

    @Test func oversampledEpochsAreDeterministicAndDrawOnlyGivenIndices() {
        let labels = imbalancedLabels(2000)
        let subset = Array(stride(from: 0, to: 2000, by: 2))
        let a = EpochSampler(indices: subset, batchSize: 50, seed: 9, oversample: (labels, .sqrt))
        let b = EpochSampler(indices: subset, batchSize: 50, seed: 9, oversample: (labels, .sqrt))
        #expect(a.batch(epoch: 2, step: 5) == b.batch(epoch: 2, step: 5))
        #expect(a.epochOrder(epoch: 2) != a.epochOrder(epoch: 3))
        #expect(a.epochOrder(epoch: 2).count == subset.count)
        #expect(Set(a.epochOrder(epoch: 2)).isSubset(of: Set(subset)))
    }
}

@Suite struct ValidationSplitTests {
    @Test func carveIsDisjointCompleteAndSorted() {
        let (train, validation) = ValidationSplit.carve(count: 1000, fraction: 0.1, seed: 4)
        #expect(validation.count == 100)
        #expect(Set(train).isDisjoint(with: validation))
        #expect((train + validation).sorted() == Array(0..<1000))
        #expect(train == train.sorted() && validation == validation.sorted())
    }

    @Test func carveIsDeterministicForTheSeed() {
        let a = ValidationSplit.carve(count: 1000, fraction: 0.2, seed: 4)
        let b = ValidationSplit.carve(count: 1000, fraction: 0.2, seed: 4)
        let c = ValidationSplit.carve(count: 1000, fraction: 0.2, seed: 5)
        #expect(a.validation == b.validation)
        #expect(a.validation != c.validation)
    }

    @Test func zeroFractionKeepsEverythingForTraining() {
        let (train, validation) = ValidationSplit.carve(count: 50, fraction: 0, seed: 1)
        #expect(train == Array(0..<50) && validation.isEmpty)
    }
}
