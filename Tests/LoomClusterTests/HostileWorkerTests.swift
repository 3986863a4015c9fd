// Workers that misbehave on purpose (`loom worker --test-fault`, real processes over real
// sockets): one that heartbeats but never answers, one that flips a bit of its gradients.
// Each run must finish with the weights of a one-process run, bit for bit, and the log must
// say who was put out and why.

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct HostileWorkerTests {
    /// The staller answers its first two blocks (the deadline learns a time per micro-shard
    /// from them), then takes assignments and never answers, heartbeating all along. The
    /// worker timeout is far beyond the deadline, so only the deadline can put it out (and a
    /// loaded host cannot get a worker declared dead instead).
    @Test func aWorkerThatHeartbeatsButNeverAnswersIsDemotedThenExcluded() throws {
        let h = try ClusterHarness("stall", maxSteps: 8,
                                   extra: ["cluster.step_deadline_floor_ms=500", "cluster.worker_timeout_ms=20000"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2"])
        try h.startWorker("honest")
        let staller = try h.startWorker("staller", extra: ["--exit-on-shutdown", "--test-fault", "stall:2"])
        let model = try h.finish(coordinator, run: "run")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run")
        let log = h.log("run.log")
        let name = ":\(staller.processIdentifier))"
        #expect(log.contains("\(name) held micro-shards"), "\(log)")
        #expect(log.contains("past the step deadline") && log.contains("sits out the rest of step"))
        #expect(log.contains("\(name) excluded from the run: missed the step deadline in 3 jobs in a row"))
        #expect(!log.contains("declared dead"), "heartbeats kept it live: the deadline, not the timeout, put it out")
        #expect(h.wait(staller, seconds: 10) && staller.terminationStatus == 1, "the excluded worker is told and exits 1")
        #expect(h.log("staller.log").contains("excluded from the run"))
    }

    /// Every block audited: with two workers the coordinator computes the third result
    /// itself, with three the third worker does.
    @Test(arguments: [2, 3]) func aWorkerThatFlipsABitIsNamedExcludedAndLeavesNoTrace(workers: Int) throws {
        let h = try ClusterHarness("flip\(workers)", maxSteps: 6, extra: ["cluster.audit=1"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "\(workers)"])
        for w in 1..<workers { try h.startWorker("honest\(w)") }
        // Its first block is honest, so it is admitted and computing when it turns.
        let culprit = try h.startWorker("culprit", extra: ["--exit-on-shutdown", "--test-fault", "flip-bit:1"])
        let model = try h.finish(coordinator, run: "run")
        #expect(bitwiseEqual(model, reference), "a flipped bit reached the weights")
        let log = h.log("run.log")
        let name = ":\(culprit.processIdentifier))"
        let named = log.components(separatedBy: "\n").filter { $0.contains("computed a wrong result") }
        #expect(!named.isEmpty && named.allSatisfy { $0.contains(name) && $0.contains("audit key: seed 7, step ") }, "\(named)")
        #expect(log.contains("\(name) excluded from the run"))
        #expect(log.contains(workers == 2 ? "differs from the one this coordinator confirmed" : "differs from the one worker "), "\(named)")
        #expect(log.contains("workers excluded 1,"), "only the culprit is out")
        #expect(h.wait(culprit, seconds: 10) && culprit.terminationStatus == 1)
    }
}
