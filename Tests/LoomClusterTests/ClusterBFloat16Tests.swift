// `cluster.wire: bf16` with real processes: a bf16 run on workers (one over the socket, one
// through shared memory) gives the weights of the bf16 run of `loom train --workers 0`, bit
// for bit, and its weights and gradients cross the socket at 2 bytes a value.

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct ClusterBFloat16Tests {
    @Test func aBF16RunOnTwoWorkersGivesTheWeightsOfTheBF16OneProcessRun() throws {
        let h = try ClusterHarness("bf16", model: "reference-cnn", maxSteps: 3, extra: ["cluster.wire=bf16"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2"])
        let workers = [try h.startWorker("shm", extra: ["--exit-on-shutdown"]),
                       try h.startWorker("socket", extra: ["--exit-on-shutdown", "--no-shared-memory", "--no-local-data"])]
        let model = try h.finish(coordinator, run: "run")
        for worker in workers { worker.waitUntilExit() }
        #expect(bitwiseEqual(model, reference), "bf16: weights on 2 workers differ from the one-process run")
    }

    @Test func wireBF16HalvesTheWeightBytesAndChangesTheWeights() throws {
        let h = try ClusterHarness("bf16-bytes", model: "mlp", maxSteps: 3)
        let fp32 = try h.referenceModel()
        var weightBytes: [String: Int] = [:]
        for (run, extra) in [("fp32", [String]()), ("bf16", ["--wire", "bf16"])] {
            let coordinator = try h.startCoordinator(run: run, extra: extra)
            let worker = try h.startWorker("\(run)-w", extra: ["--exit-on-shutdown", "--no-shared-memory"])
            let model = try h.finish(coordinator, run: run)
            worker.waitUntilExit()
            #expect(bitwiseEqual(model, fp32) == (run == "fp32"), "\(run): weights against the fp32 one-process run")
            let summary = h.log("\(run).log")
            weightBytes[run] = try #require(summary.components(separatedBy: "(weights ").last.flatMap { Int($0.prefix { $0.isNumber }) })
        }
        // The same weights messages (one per version), parameters at 2 bytes instead of 4.
        let ratio = Double(weightBytes["bf16"]!) / Double(weightBytes["fp32"]!)
        #expect(ratio > 0.45 && ratio < 0.55, "weights bytes \(weightBytes)")
    }
}
