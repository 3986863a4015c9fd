// The audit's draw of steps, its bit comparison and the bound check, and the step deadline's rule:
// pure functions of their inputs.

import LoomTraining
import Testing
@testable import LoomCluster

@Suite struct GradientAuditTests {
    @Test func theDrawAuditsTheGivenShareOfStepsAndIsAFunctionOfKeyAndStep() {
        var drawn = 0
        for step in 0..<50_000 where GradientAudit.isStepAudited(key: 7, step: step, rate: 0.02) { drawn += 1 }
        // Binomial(50 000, 0.02): mean 1000, standard deviation 31.
        #expect((850...1150).contains(drawn), "\(drawn) of 50 000")
        let again = (0..<1000).map { GradientAudit.isStepAudited(key: 7, step: $0, rate: 0.5) }
        #expect(again == (0..<1000).map { GradientAudit.isStepAudited(key: 7, step: $0, rate: 0.5) })
        #expect(again != (0..<1000).map { GradientAudit.isStepAudited(key: 8, step: $0, rate: 0.5) })
        #expect(!GradientAudit.isStepAudited(key: 7, step: 3, rate: 0))
        #expect(GradientAudit.isStepAudited(key: 7, step: 3, rate: 1))
        // The key is secret and drawn afresh: two coordinators do not share it.
        #expect(GradientAudit.secretKey() != GradientAudit.secretKey())
    }

    @Test func oneFlippedBitAnywhereMakesTwoResultsDifferent() {
        let a = ShardResult(gradients: [1, 2, 3], batchStatistics: [0.5], headSums: [1, 2, 3, 4], shardCount: 2)
        #expect(GradientAudit.sameBits(a, a))
        var b = a
        b.gradients[2] = Float(bitPattern: b.gradients[2].bitPattern ^ 1)
        #expect(!GradientAudit.sameBits(a, b))
        #expect(GradientAudit.firstDifference(a, b).hasPrefix("gradient element 2"))
        var c = a
        c.headSums[3] = c.headSums[3].nextUp
        #expect(!GradientAudit.sameBits(a, c))
        var d = a
        d.gradients[0] = -0.0 + 1  // same value, same bits
        #expect(GradientAudit.sameBits(a, d))
    }

    @Test func theLargestMagnitudeIsTheLargestAbsoluteValue() {
        for count in [1, 15, 16, 17, 100, 1000] {
            var values = (0..<count).map { Float($0 % 7) - 3.5 }
            values[count / 2] = -1e20
            let largest = values.withUnsafeBufferPointer { GradientAudit.largestMagnitude($0.baseAddress!, count: count) }
            #expect(largest == values.map(abs).max()!, "\(count) values")
        }
    }

    @Test func theBoundFlags3e38AtOnceAndASpikeOfTenfoldNever() {
        var bound = GradientBound()
        #expect(bound.isOutOfBounds(3e38), "no history is needed for the obvious")
        #expect(!bound.isOutOfBounds(5), "nor does a modest value need any")
        for _ in 0..<10 { bound.record(0.01) }
        #expect(!bound.isOutOfBounds(0.1))
        #expect(!bound.isOutOfBounds(5))
        #expect(bound.isOutOfBounds(20))
    }

    @Test func theAutomaticDeadlineIsAMultipleOfTheRecentTimeWithAFloor() {
        var deadline = StepDeadline(fixed: nil, floor: .milliseconds(1000))
        #expect(deadline.allowance(.train, units: 4) == .milliseconds(1000), "no history: the floor")
        for _ in 0..<10 { deadline.record(.train, seconds: 0.2, units: 2) }  // 100 ms per micro-shard
        #expect(deadline.allowance(.train, units: 4) == .milliseconds(4000), "10 x 100 ms x 4 micro-shards")
        #expect(deadline.allowance(.train, units: 1) == .milliseconds(1000), "never under the floor")
        #expect(deadline.allowance(.evaluate, units: 512) == .milliseconds(1000), "evaluations have their own history")
        // One slow piece does not move the median.
        deadline.record(.train, seconds: 100, units: 1)
        #expect(deadline.allowance(.train, units: 4) == .milliseconds(4000))
        let fixed = StepDeadline(fixed: .milliseconds(250), floor: .milliseconds(1000))
        #expect(fixed.allowance(.train, units: 64) == .milliseconds(250), "cluster.step_deadline_ms as given")
    }
}
