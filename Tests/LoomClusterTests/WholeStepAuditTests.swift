// A step drawn for the audit is audited whole, over the in-memory transport with the test
// playing the workers: every block is computed a second time by another worker, each worker
// gets its copy only once it delivered its own block, a flipped bit is found and its worker
// excluded with two workers (the coordinator decides) and with three (the third worker
// does), and a lone worker's step is taken unaudited.

import Foundation
import LoomTraining
import LoomWire
import Testing

@Suite(.serialized) struct WholeStepAuditTests {
    typealias Shared = CoordinatorSharedMemoryTests

    /// With 3 workers the 4 micro-shards are cut unevenly: a block of 2 and two of 1.
    @Test(arguments: [2, 3]) func anAuditedStepCopiesEveryBlockToAnotherWorkerOnceItDeliveredItsOwn(workers: Int) throws {
        let (c, step, members) = try Shared.startStep(shared: [Bool](repeating: false, count: workers), audit: 1)
        #expect(Set(members.map(\.work.firstShard)).count == workers, "one block each")
        // Nothing more comes to a worker before it has answered for its own block.
        #expect(try Self.anyAssignment(members, runID: c.runID, seconds: 0.3) == nil,
                "a copy went out before its worker delivered its own block")
        for m in members { try m.send(runID: c.runID) }
        var copiedBy: [UInt32: Int] = [:]
        for (i, m) in members.enumerated() {
            let copy = try #require(try Shared.nextAssignment(m.fake, runID: c.runID), "worker \(i) computes a copy")
            #expect(copy.firstShard != m.work.firstShard, "worker \(i) got its own block")
            let j = try #require(members.firstIndex { $0.work.firstShard == copy.firstShard })
            #expect(copy.shardCount == members[j].work.shardCount && !copy.sharedResult)
            #expect(copiedBy[copy.firstShard] == nil, "block \(copy.firstShard) copied twice")
            copiedBy[copy.firstShard] = i
            try m.fake.transport.send(.result(Shared.wire(members[j].value, runID: c.runID, first: copy.firstShard, shared: nil)),
                                      to: .coordinator)
        }
        #expect(Set(copiedBy.keys) == Set(members.map(\.work.firstShard)), "every block is copied")
        #expect(sameBits(try step.finish(), try c.localResult(step: 0)))
        let s = c.executor.statistics
        #expect(s.stepsAudited == 1 && s.blocksAudited == workers && s.auditMismatches == 0 && s.auditsSkipped == 0)
    }

    /// Worker w0 flips the lowest bit of the first gradient element of everything it sends:
    /// its own block, and its copy of another's. Both audits differ; the first third
    /// computation names w0, and the step is the one-process step, bit for bit.
    @Test(arguments: [2, 3]) func aFlippedBitInAnAuditedStepIsFoundAndItsWorkerExcluded(workers: Int) throws {
        let (c, step, members) = try Shared.startStep(shared: [Bool](repeating: false, count: workers), audit: 1)
        func flipped(_ r: ShardResult) -> ShardResult {
            var r = r
            r.gradients[0] = Float(bitPattern: r.gradients[0].bitPattern ^ 1)
            return r
        }
        let values = Dictionary(uniqueKeysWithValues: members.map { ($0.work.firstShard, $0.value) })
        try members[0].send(flipped(members[0].value), runID: c.runID)
        for m in members.dropFirst() { try m.send(runID: c.runID) }
        // Every assignment from now on is answered, w0's flipped, until the step is taken.
        var answered = [Int](repeating: 0, count: workers)
        let deadline = Date().addingTimeInterval(10)
        while !step.isFinished && Date() < deadline {
            for (i, m) in members.enumerated() {
                guard let a = try Self.assignment(m, runID: c.runID), let value = values[a.firstShard] else { continue }
                answered[i] += 1
                try m.fake.transport.send(.result(Shared.wire(i == 0 ? flipped(value) : value, runID: c.runID, first: a.firstShard, shared: nil)),
                                          to: .coordinator)
            }
        }
        #expect(sameBits(try step.finish(), try c.localResult(step: 0)), "a flipped bit reached the step")
        let s = c.executor.statistics
        #expect(s.stepsAudited == 1 && s.auditMismatches >= 1 && s.workersExcluded == 1, "\(s)")
        #expect(c.executor.liveWorkers.map(\.hostname) == (1..<workers).map { "w\($0)" }, "only w0 is out")
        #expect(answered[0] == 1, "w0 computed one copy, then was out")
        if workers == 3 {
            #expect(answered[1] + answered[2] >= 3, "the third computation went to a worker: \(answered)")
        }
    }

    /// One worker: nobody to compare with. The step is drawn, its block counted as not
    /// audited, and taken.
    @Test func aLoneWorkersAuditedStepIsTakenUnaudited() throws {
        let (c, step, members) = try Shared.startStep(shared: [false], audit: 1)
        try members[0].send(runID: c.runID)
        #expect(sameBits(try step.finish(), try c.localResult(step: 0)))
        let s = c.executor.statistics
        #expect(s.stepsAudited == 1 && s.auditsSkipped == 1 && s.blocksAudited == 0)
    }

    /// The first assignment any of `members` gets within `seconds` (heartbeating meanwhile).
    static func anyAssignment(_ members: [Shared.Member], runID: UInt64, seconds: Double) throws -> Assignment? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            for m in members { if let a = try assignment(m, runID: runID) { return a } }
        }
        return nil
    }

    /// A heartbeat from `member`, then its next assignment if one comes within 5 ms.
    static func assignment(_ member: Shared.Member, runID: UInt64) throws -> Assignment? {
        try member.fake.transport.send(.heartbeat(Heartbeat(runID: runID, step: 0, weightsVersion: 0)), to: .coordinator)
        guard let e = try member.fake.transport.receive(timeout: .milliseconds(5)),
              case .assignment(let a)? = try? Message.decode(e.frames, expectedRunID: nil) else { return nil }
        return a
    }
}
