// ARCHITECTURE.md, invariant 1, for a run with a multilabel head: dense targets travel in the sample records
// (workers without the file) or are read from the worker's own copy, and the weights are
// those of the one-process run either way.

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct ClusterMultilabelTests {
    @Test func aMultilabelRunOnOneOrTwoWorkersGivesTheWeightsOfAOneProcessRun() throws {
        let h = try ClusterHarness("multilabel", maxSteps: 6, config: "configs/multilabel.yaml") {
            try MultilabelDataset.write(to: $0, train: 256, test: 32)
        }
        let reference = try h.referenceModel()
        for (n, noLocalData) in [(1, [false]), (1, [true]), (2, [false, true])] {
            let run = "run\(n)-\(noLocalData.map { $0 ? "r" : "l" }.joined())"
            // Every worker in before the first step, so each one's join line is there to check.
            let coordinator = try h.startCoordinator(run: run, extra: ["--min-workers", "\(n)"])
            for (w, remote) in noLocalData.enumerated() {
                // Local workers read images, labels and targets from their own file from the start.
                try h.startWorker("\(run)-w\(w)", extra: ["--exit-on-shutdown"]
                                  + (remote ? ["--no-local-data"] : ["--data", h.datasetPath]))
            }
            let same = bitwiseEqual(try h.finish(coordinator, run: run), reference)
            #expect(same, "\(run): weights differ from the one-process run")
            let joined = h.log("\(run).log").components(separatedBy: "\n").filter { $0.contains(" joined: ") }
            #expect(joined.filter { $0.contains("local data yes") }.count == noLocalData.filter { !$0 }.count, "\(joined)")
        }
    }

    @Test func aWorkerWithTheDatasetServingASecondRunWithOtherHeadsReadsThatRunsTargets() throws {
        // One worker process (no --exit-on-shutdown) serves two runs on the same file: the
        // second lists the heads the other way round, so what the worker read for the first
        // run is not what the second run's heads learn from.
        let h = try ClusterHarness("multilabel-reuse", maxSteps: 3, config: "configs/multilabel.yaml") {
            try MultilabelDataset.write(to: $0, train: 128, test: 16)
        }
        let first = try h.startCoordinator(run: "first")
        try h.startWorker("worker", extra: ["--data", h.datasetPath])
        _ = try h.finish(first, run: "first")

        h.overrides.append("heads=[{name: tags, kind: multilabel, layer: head_tags},"
                           + " {name: category, kind: softmax, layer: head_category}]")
        let reference = try h.referenceModel()
        let second = try h.startCoordinator(run: "second")
        let weights = try h.finish(second, run: "second", seconds: 60)
        #expect(bitwiseEqual(weights, reference), "second run: weights differ from the one-process run")
        #expect(!h.log("worker.log").contains("error"), "\(h.log("worker.log"))")
    }
}
