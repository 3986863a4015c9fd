// `loom coordinator --min-workers N`: no step before N workers are connected; then the run
// goes on as usual (and ends with the one-process weights).

import Foundation
import LoomTestSupport
import Testing

@Suite struct CoordinatorMinWorkersTests {
    @Test func theFirstStepWaitsForTheWorkersAskedFor() throws {
        let h = try ClusterHarness("min-workers", maxSteps: 4)
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2"])
        try h.startWorker("first")
        #expect(h.waitFor("1 of 2 worker(s) connected; waiting before the first step", in: "run.log", seconds: 30), "\(h.log("run.log"))")
        #expect(!h.log("run.log").contains("step 1/"), "a step ran with one worker: \(h.log("run.log"))")
        try h.startWorker("second")
        let weights = try h.finish(coordinator, run: "run")
        #expect(bitwiseEqual(weights, reference))
        let log = h.log("run.log")
        let secondJoin = try #require(log.range(of: "2 worker(s) live"), "\(log)")
        let firstStep = try #require(log.range(of: "step 1/"), "\(log)")
        #expect(secondJoin.lowerBound < firstStep.lowerBound, "the first step ran before the second worker joined: \(log)")
    }
}
