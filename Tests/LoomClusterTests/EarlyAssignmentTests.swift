// Early assignments with real processes (docs/PROTOCOL.md, "Early assignments"): with shard
// servers and overlap the coordinator assigns step k + 1 while step k runs, and a worker
// starts it once the servers' slices of version k + 1 are whole. Whoever computes a block
// and whenever, the weights must be bitwise those of a one-process run
// (`loom train --workers 0`), also when a worker holding early blocks dies, when
// evaluations come between steps, and when a rollback withdraws the early blocks.

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct EarlyAssignmentTests {
    /// The number in `early assignments N (withdrawn M)` of the coordinator's summary.
    static func earlyCounts(_ log: String) -> (sent: Int, withdrawn: Int)? {
        guard let r = log.range(of: #"early assignments (\d+) \(withdrawn (\d+)\)"#, options: .regularExpression) else { return nil }
        let numbers = log[r].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        return numbers.count == 2 ? (numbers[0], numbers[1]) : nil
    }

    /// Three workers, two servers: every step after the first is assigned ahead; a worker
    /// killed mid-run leaves its early blocks to the others at the step's start.
    @Test func aWorkerKilledWithEarlyBlocksLeavesTheWeightsUnchanged() throws {
        let h = try ClusterHarness("early-kill", model: "reference-cnn", maxSteps: 24,
                                   extra: ["training.micro_batch=16", "cluster.worker_timeout_ms=2000"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "3", "--set", "cluster.servers=2",
                                                                     "--set", "cluster.overlap=true"])
        for i in 0..<2 { try h.startServer("server\(i)") }
        let victim = try h.startWorker("victim")
        for w in 0..<2 { try h.startWorker("w\(w)") }
        #expect(h.waitFor("step 8/", in: "run.log"))
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        let model = try h.finish(coordinator, run: "run")
        let log = h.log("run.log")
        #expect(log.contains("declared dead"), "\(log)")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run after a worker with early blocks died")
        let counts = try #require(Self.earlyCounts(log), "no early assignment count in the summary: \(log)")
        // Steps 1...23 were assigned ahead, at least two blocks each before the kill.
        #expect(counts.sent >= 20, "\(counts.sent) early assignments: \(log)")
        #expect(counts.withdrawn == 0, "\(log)")
    }

    /// A worker that dies after its result went out and before its gradient reached every
    /// server (`--test-fault die-after-result`: it pushes to the first server only): the
    /// blocks it delivered are computed again by the others, one server answering for the
    /// version it already stepped past. No server is declared lost, nothing rolls back, and
    /// the weights are the one-process run's; with overlap and without. Dying on its first
    /// block (`:0`), it leaves the others holding the next version's slice from the server
    /// that stepped: the one that computes the block again pulls the version before from
    /// it, and its push there stands for a pull of the version held.
    @Test(arguments: zip([true, false, true], [6, 6, 0]))
    func aWorkerDeadBetweenItsResultAndItsPushes(overlap: Bool, block: Int) throws {
        let h = try ClusterHarness("push-lost-\(overlap)-\(block)", model: "reference-cnn", maxSteps: 16,
                                   extra: ["training.micro_batch=16", "cluster.worker_timeout_ms=3000"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "3", "--set", "cluster.servers=2",
                                                                     "--set", "cluster.overlap=\(overlap)"])
        for i in 0..<2 { try h.startServer("server\(i)") }
        try h.startWorker("victim", extra: ["--exit-on-shutdown", "--test-fault", "die-after-result:\(block)"])
        for w in 0..<2 { try h.startWorker("w\(w)") }
        let model = try h.finish(coordinator, run: "run")
        let log = h.log("run.log")
        #expect(h.log("victim.log").contains("test fault die-after-result"), "\(h.log("victim.log"))")
        #expect(log.contains("declared dead"), "\(log)")
        #expect(log.contains("are computed again"), "\(log)")
        #expect(!log.contains("declared lost") && !log.contains("rolling back"), "\(log)")
        // Nobody stalled: a worker left without a version's slice would hold its next
        // blocks until the step deadline (10 s at the least).
        #expect(log.contains("deadlines missed 0"), "\(log)")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run after a worker died between its result and its pushes")
    }

    /// Evaluations between steps (the workers may start the next step first) and a
    /// checkpoint gathered while early gradients wait at the servers.
    @Test func evaluationsAndCheckpointsBetweenEarlySteps() throws {
        let h = try ClusterHarness("early-eval", model: "reference-cnn", maxSteps: 8,
                                   extra: ["training.micro_batch=16", "training.eval_every_steps=2", "checkpoint.every_steps=3"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=2",
                                                                     "--set", "cluster.overlap=true"])
        for i in 0..<2 { try h.startServer("server\(i)") }
        for w in 0..<2 { try h.startWorker("w\(w)") }
        let model = try h.finish(coordinator, run: "run")
        let log = h.log("run.log")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run with evaluations between early steps")
        #expect((Self.earlyCounts(log)?.sent ?? 0) >= 7, "\(log)")
        #expect(!log.contains("stale result"), "a result of an early step was dropped: \(log)")
    }

    /// A server killed mid-run: the rollback withdraws the blocks assigned ahead (the next
    /// step is not the one planned), and the run ends with the one-process weights.
    @Test func aRollbackWithdrawsTheEarlyBlocks() throws {
        let h = try ClusterHarness("early-rollback", model: "reference-cnn", maxSteps: 20,
                                   extra: ["checkpoint.every_steps=6", "cluster.worker_timeout_ms=2000", "training.micro_batch=32"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=2",
                                                                     "--set", "cluster.overlap=true"])
        let victim = try h.startServer("server0")
        try h.startServer("server1")
        for w in 0..<2 { try h.startWorker("w\(w)") }
        #expect(h.waitFor("step 9/", in: "run.log"))
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        try h.startServer("replacement")
        let model = try h.finish(coordinator, run: "run")
        let log = h.log("run.log")
        #expect(log.contains("rolling back from step"), "\(log)")
        #expect(log.contains("sent ahead to"), "no early assignment withdrawn: \(log)")
        #expect((Self.earlyCounts(log)?.withdrawn ?? 0) >= 1, "\(log)")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run after a rollback with early blocks")
    }
}
