// Overlap with real processes (docs/CLUSTER.md, "Overlap"): `loom coordinator` with
// cluster.servers S and cluster.overlap, S `loom server`s and `loom worker`s over ipc
// sockets. Workers push gradient ranges during their backward pass and pull the next
// version's ranges as the servers complete them; the final weights must be bitwise those
// of a one-process run (`loom train --workers 0`).

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct OverlapTests {
    /// Blocks of one micro-shard (the whole backward pass overlaps) and of two (only the
    /// last one's), two and three servers, batch norm in the model.
    @Test(arguments: [(16, 2), (32, 3)])
    func anOverlappedRunGivesTheWeightsOfAOneProcessRun(microBatch: Int, servers: Int) throws {
        let h = try ClusterHarness("overlap-\(microBatch)-\(servers)", model: "reference-cnn", maxSteps: 4,
                                   extra: ["training.micro_batch=\(microBatch)"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=\(servers)",
                                                                     "--set", "cluster.overlap=true"])
        for i in 0..<servers { try h.startServer("server\(i)") }
        try h.startWorker("w0")
        try h.startWorker("w1", extra: ["--exit-on-shutdown", "--no-local-data"])
        let model = try h.finish(coordinator, run: "run")
        #expect(bitwiseEqual(model, reference), "micro-batch \(microBatch), \(servers) servers: weights differ from the one-process run")
        for i in 0..<servers {
            #expect(h.waitFor("4 steps applied", in: "server\(i).log", seconds: 30), "\(h.log("server\(i).log"))")
            // The workers' pushes stood for their pulls of the next version (one a step,
            // at least, once both computed): only the first weights were pulled by message.
            let log = h.log("server\(i).log")
            let byPush = log.range(of: #"(\d+) pushes standing for a pull"#, options: .regularExpression)
                .flatMap { Int(log[$0].prefix { $0.isNumber }) } ?? 0
            #expect(byPush >= 4, "server \(i): \(byPush) pushes stood for a pull: \(log)")
        }
    }

    /// AdamW (two slots, stepped range by range), a 2-slot worker (which pushes its block
    /// whole) beside a 1-slot one (which pushes ranges), and a checkpoint in the middle.
    @Test func adamWithAMultiSlotWorkerAndACheckpointKeepsTheBits() throws {
        let h = try ClusterHarness("overlap-adam", model: "mlp", maxSteps: 6,
                                   extra: ["optimizer.kind=adamw", "optimizer.lr=0.001", "checkpoint.every_steps=3",
                                           "training.micro_batch=8"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=2",
                                                                     "--set", "cluster.overlap=true"])
        for i in 0..<2 { try h.startServer("server\(i)") }
        try h.startWorker("w0", extra: ["--exit-on-shutdown", "--slots", "2"])
        try h.startWorker("w1")
        let model = try h.finish(coordinator, run: "run")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run")
    }

    /// A server killed mid-run with overlap: the run rolls back to its last checkpoint and
    /// ends with the weights of one uninterrupted process.
    @Test func aServerKilledMidRunRollsBackToTheSameBits() throws {
        let h = try ClusterHarness("overlap-kill", model: "reference-cnn", maxSteps: 24,
                                   extra: ["checkpoint.every_steps=8", "cluster.worker_timeout_ms=2000", "training.micro_batch=32"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=2",
                                                                     "--set", "cluster.overlap=true"])
        let victim = try h.startServer("server0")
        try h.startServer("server1")
        for w in 0..<2 { try h.startWorker("w\(w)") }
        #expect(h.waitFor("step 10/", in: "run.log"))
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        try h.startServer("replacement")
        let model = try h.finish(coordinator, run: "run")
        let log = h.log("run.log")
        #expect(log.contains("rolling back from step"), "\(log)")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run after a lost server")
    }
}

/// Overlap with `cluster.wire: bf16`: the ranges are summed with the tree's rounding and
/// go both ways as bfloat16; the weights are those of the bf16 one-process run.
@Suite(.serialized) struct OverlapBFloat16Tests {
    @Test func anOverlappedBF16RunGivesTheWeightsOfTheBF16OneProcessRun() throws {
        let h = try ClusterHarness("overlap-bf16", model: "reference-cnn", maxSteps: 4,
                                   extra: ["training.micro_batch=16", "cluster.wire=bf16"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=2",
                                                                     "--set", "cluster.overlap=true"])
        for i in 0..<2 { try h.startServer("server\(i)") }
        for w in 0..<2 { try h.startWorker("w\(w)") }
        let model = try h.finish(coordinator, run: "run")
        #expect(bitwiseEqual(model, reference), "bf16 with overlap: weights differ from the bf16 one-process run")
    }
}

/// A diverging run with servers and overlap: the first range a worker finds NaN or Inf in is
/// not pushed, nor anything after it, and its result goes whole to the coordinator, which
/// stops the run with the line and status of `loom train --workers 0` (it must not hang with
/// servers waiting for ranges that never come).
@Suite(.serialized) struct OverlapDivergenceTests {
    @Test func aDivergingOverlappedRunStopsWithTheOneProcessLine() throws {
        let h = try ClusterHarness("overlap-diverge", model: "reference-cnn", maxSteps: 12,
                                   extra: ["training.micro_batch=16", "optimizer.lr=1000"])
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=2",
                                                                     "--set", "cluster.overlap=true"])
        for i in 0..<2 { try h.startServer("server\(i)") }
        for w in 0..<2 { try h.startWorker("w\(w)") }
        #expect(h.wait(coordinator, seconds: 90), "the coordinator did not stop: \(h.log("run.log"))")
        let log = h.log("run.log")
        #expect(coordinator.terminationStatus == 1, "\(log)")
        #expect(log.contains("contain NaN or Inf (loss diverged?); weights left unchanged, last checkpoint kept")
                || log.contains("holds NaN or Inf"), "\(log)")
    }
}
