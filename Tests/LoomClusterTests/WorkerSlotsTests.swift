// `loom worker --slots N` (docs/CLUSTER.md, "Slots"): one process computing its block on N
// threads and pre-reducing it along the tree; the coordinator gives it a block N times as
// large. ARCHITECTURE.md, invariant 1, with real processes: the same bits as one process.

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct WorkerSlotsTests {
    /// 6 micro-shards of 16 (batch 96): a 2-slot worker beside a 1-slot one takes [0,4) (on
    /// two threads, [0,2) and [2,4)), the other [4,6): one result each, and the weights
    /// after 3 steps are those of `loom train --workers 0`; so are a 2-slot worker's alone.
    @Test func aWorkerWithSlotsGivesTheBitsOfOneProcess() throws {
        let h = try ClusterHarness("slots", model: "reference-cnn", maxSteps: 3, extra: ["training.batch_size=96"])
        let reference = try h.referenceModel()
        for (run, slots) in [("alone", [2]), ("mixed", [2, 1])] {
            let coordinator = try h.startCoordinator(run: run, extra: ["--min-workers", "\(slots.count)", "--log-level", "trace"])
            var pids: [Int32] = []
            for (w, s) in slots.enumerated() {
                // The 2-slot worker first, so that it is live when the other joins.
                let p = try h.startWorker("\(run)-w\(w)", extra: ["--exit-on-shutdown", "--slots", "\(s)"])
                pids.append(p.processIdentifier)
                if w == 0 { #expect(h.waitFor("joined", in: "\(run).log", seconds: 60)) }
            }
            let model = try h.finish(coordinator, run: run)
            #expect(bitwiseEqual(model, reference), "\(run): weights differ from the one-process run")
            let log = h.log("\(run).log")
            #expect(log.contains("joined: 2 core(s)"), "the 2-slot worker announces 2 cores: \(log.suffix(800))")
            let blocks = log.components(separatedBy: "\n").filter { $0.contains("step 2: block ") }
            if run == "mixed" {
                #expect(blocks.contains { $0.contains("block [0,4) to worker") && $0.contains(":\(pids[0]))") },
                        "the 2-slot worker gets 4 of the 6 micro-shards: \(blocks)")
                #expect(blocks.contains { $0.contains("block [4,6) to worker") && $0.contains(":\(pids[1]))") }, "\(blocks)")
            } else {
                #expect(blocks.contains { $0.contains("block [0,6) to worker") }, "one block for the one worker: \(blocks)")
            }
        }
    }
}
