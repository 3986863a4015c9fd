// NaN or Inf in a worker's result: the block goes to another worker, which reproduces it
// for an honest divergence (then the step fails as a one-process step does) or computes
// it cleanly for a broken worker (then the step completes with the right bits).

import Foundation
import LoomTraining
import LoomWire
import Testing

@Suite struct DivergenceStateMachineTests {
    typealias Shared = CoordinatorSharedMemoryTests

    /// `value` with a NaN in its batch-norm statistics (what a diverged BN layer sends).
    static func poisoned(_ value: ShardResult) -> ShardResult {
        var v = value
        if v.batchStatistics.isEmpty { v.gradients[0] = .nan } else { v.batchStatistics[0] = .nan }
        return v
    }

    @Test func aBlockWithNaNFromOneWorkerAndCleanFromAnotherCompletesTheStep() throws {
        let (c, step, members) = try Shared.startStep(shared: [false, false])
        let a = members[0], b = members[1]
        try b.send(runID: c.runID)
        try a.send(Self.poisoned(a.value), runID: c.runID)
        // The coordinator gives a's block to b, which computes it cleanly.
        let again = try #require(try Shared.nextAssignment(b.fake, runID: c.runID), "a's block goes to b")
        #expect(again.firstShard == a.work.firstShard && again.shardCount == a.work.shardCount)
        try b.fake.transport.send(.result(Shared.wire(a.value, runID: c.runID, first: a.work.firstShard, shared: nil)), to: .coordinator)
        #expect(sameBits(try step.finish(), try c.localResult(step: 0)))
        #expect(c.executor.statistics.blocksReassigned == 1)
        #expect(c.executor.statistics.workersLost == 0)
    }

    @Test func aBlockWithNaNFromTwoWorkersIsADivergenceAndTheStepFails() throws {
        let (c, step, members) = try Shared.startStep(shared: [false, false])
        let a = members[0], b = members[1]
        try b.send(runID: c.runID)
        try a.send(Self.poisoned(a.value), runID: c.runID)
        _ = try #require(try Shared.nextAssignment(b.fake, runID: c.runID), "a's block goes to b")
        try b.fake.transport.send(.result(Shared.wire(Self.poisoned(a.value), runID: c.runID, first: a.work.firstShard, shared: nil)),
                                  to: .coordinator)
        let error = #expect(throws: TrainingError.self) { try step.finish() }
        #expect("\(error.map { "\($0)" } ?? "")".contains("contain NaN or Inf (loss diverged?); weights left unchanged, last checkpoint kept"))
        #expect("\(error.map { "\($0)" } ?? "")".contains("w0") && "\(error.map { "\($0)" } ?? "")".contains("w1"))
    }

    @Test func withOneWorkerANaNIsADivergenceAtOnce() throws {
        let (c, step, members) = try Shared.startStep(shared: [false])
        try members[0].send(Self.poisoned(members[0].value), runID: c.runID)
        #expect(throws: TrainingError.self) { try step.finish() }
    }
}
