// The audit on the coordinator over the in-memory transport, with the test playing the
// workers: a result out of bounds is computed again by another worker, the difference puts
// both in quarantine, the coordinator computes the block a third time, and the worker whose
// bits differ is excluded; the step is the one-process step, bit for bit.

import Foundation
import LoomTraining
import LoomWire
import Testing

@Suite struct AuditStateMachineTests {
    typealias Shared = CoordinatorSharedMemoryTests

    @Test func aGradientOf3e38IsAuditedAndItsWorkerExcludedBeforeTheStepIsTaken() throws {
        // A rate that draws no block: only the bound check asks for the audit.
        let (c, step, members) = try Shared.startStep(shared: [false, false], audit: 1e-9)
        let a = members[0], b = members[1]
        var poisoned = a.value
        poisoned.gradients[0] = 3e38
        try b.send(runID: c.runID)
        try a.send(poisoned, runID: c.runID)
        // b is asked for a's block, in the message.
        let copy = try #require(try Shared.nextAssignment(b.fake, runID: c.runID), "a's block goes to b for the audit")
        #expect(copy.firstShard == a.work.firstShard && copy.shardCount == a.work.shardCount)
        #expect(!copy.sharedResult)
        try b.fake.transport.send(.result(Shared.wire(a.value, runID: c.runID, first: a.work.firstShard, shared: nil)), to: .coordinator)

        #expect(sameBits(try step.finish(), try c.localResult(step: 0)), "no bit of the 3e38 reaches the step")
        let s = c.executor.statistics
        #expect(s.outOfBounds == 1 && s.blocksAudited == 1 && s.auditMismatches == 1 && s.workersExcluded == 1)
        #expect(c.executor.liveWorkers.map(\.hostname) == ["w1"], "a is out, b is in")
        let refusal = try #require(try Shared.FakeWorker.next(a.fake.transport) { if case .refuse(let r) = $0 { r } else { nil } })
        #expect(refusal.reason.contains("excluded from the run") && refusal.reason.contains("audit key: seed 3, step 0"))
    }

    @Test func anHonestResultOutOfBoundsIsAuditedAndTaken() throws {
        // The same large gradient from both: the audit agrees, nobody is blamed, and the step
        // takes it, as a one-process run would (an honest gradient is the run's own business).
        let (c, step, members) = try Shared.startStep(shared: [false, false], audit: 1e-9)
        let a = members[0], b = members[1]
        var large = a.value
        large.gradients[0] = 3e38
        try b.send(runID: c.runID)
        try a.send(large, runID: c.runID)
        _ = try #require(try Shared.nextAssignment(b.fake, runID: c.runID))
        try b.fake.transport.send(.result(Shared.wire(large, runID: c.runID, first: a.work.firstShard, shared: nil)), to: .coordinator)
        let reduced = try step.finish()
        #expect(reduced.gradients[0] == 3e38 + b.value.gradients[0] || reduced.gradients[0] == b.value.gradients[0] + 3e38)
        #expect(c.executor.statistics.auditMismatches == 0 && c.executor.statistics.workersExcluded == 0)
        #expect(c.executor.liveWorkers.count == 2)
    }

    @Test func withEveryBlockAuditedTwoHonestWorkersCheckEachOther() throws {
        let (c, step, members) = try Shared.startStep(shared: [false, true], audit: 1)
        let a = members[0], b = members[1]
        try a.send(runID: c.runID)
        try b.send(slot: SharedSlot(slot: 1, tag: 1), runID: c.runID)
        // Each computes the other's block, in the message.
        for (member, other) in [(a, b), (b, a)] {
            let copy = try #require(try Shared.nextAssignment(member.fake, runID: c.runID))
            #expect(copy.firstShard == other.work.firstShard && !copy.sharedResult)
            try member.fake.transport.send(.result(Shared.wire(other.value, runID: c.runID, first: other.work.firstShard, shared: nil)),
                                           to: .coordinator)
        }
        #expect(sameBits(try step.finish(), try c.localResult(step: 0)))
        #expect(c.executor.statistics.blocksAudited == 2 && c.executor.statistics.auditMismatches == 0)
    }
}
