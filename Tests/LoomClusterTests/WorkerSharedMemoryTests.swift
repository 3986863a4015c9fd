// A real `Worker` over the in-memory transport, with this test as its coordinator on the
// same machine: the worker maps the offered weights region, offers its own, takes weights
// from a slot, and starts a new session when a slot no longer holds what it was told.

import Foundation
import Logging
import LoomConfig
import LoomTestSupport
import LoomTraining
import LoomWire
import Testing
@testable import LoomCluster

@Suite struct WorkerSharedMemoryTests {
    @Test func aWorkerReadingAWeightsSlotTooLateStartsANewSession() throws {
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/mlp.yaml").path
        let config = try ConfigLoader.parse(yaml: """
            name: shared
            model: {file: \(model)}
            training: {batch_size: 8, micro_batch: 4, epochs: 1}
            """, source: "test", defaultName: "shared")
        let problem = try TrainingProblem.synthetic(config: config)
        let p = problem.model.parameters.count
        let weights = try SharedRegion.create(kind: "weights", slotCount: 2, slotBytes: 4 * p)

        let hub = InMemoryNetwork()
        let coordinator = hub.bindCoordinator()
        var options = WorkerOptions(endpoint: "in-memory")
        options.useLocalData = false
        var logger = Logger(label: "test.worker")
        logger.logLevel = .critical
        let stop = StopFlag()
        let worker = Worker(options: options, logger: logger, stop: stop, makeTransport: { hub.connectWorker() })
        let finished = DispatchSemaphore(value: 0)
        Thread {
            try? worker.run()
            finished.signal()
        }.start()
        defer {
            stop.requestStop()
            _ = finished.wait(timeout: .now() + 10)
        }

        func nextHello() throws -> (PeerID, Hello) {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                guard let e = try coordinator.receive(timeout: .milliseconds(50)) else { continue }
                if case .hello(let h) = try Message.decode(e.frames, expectedRunID: nil) { return (e.peer, h) }
            }
            throw CancellationError()
        }
        let (peer, first) = try nextHello()
        #expect(first.sharedMemory == nil, "nothing to offer before the welcome")
        let runID: UInt64 = 9
        let description = RunDescription(problem: problem, datasetFingerprint: "none")
        try coordinator.send(Message.welcome(Welcome(runID: runID, configYAML: config.yaml, runJSON: description.json(),
                                                     sharedWeightsPath: weights.path)).encode(), to: peer)
        let (samePeer, second) = try nextHello()
        let offer = try #require(second.sharedMemory, "the worker maps the region and offers its own")
        #expect(samePeer == peer && offer.weightsToken == weights.tokenHex)
        let results = try SharedRegion.open(path: offer.resultsPath)
        #expect(results.tokenHex == offer.resultsToken, "the offer quotes its region's own token")
        #expect(results.slotBytes >= 4 * p)

        // Version 0 announced in slot 0 under tag 1, but the slot holds tag 3 (version 2):
        // the worker read too late, and says hello again on a new connection.
        let (parameters, buffers) = problem.model.initialParameters(seed: 1)
        parameters.withUnsafeBytes { weights.write(slot: 0, tag: 3, payload: $0) }
        try coordinator.send(Message.weights(WeightsUpdate(runID: runID, step: 0, weightsVersion: 0, parameters: [],
                                                           buffers: buffers, shared: SharedSlot(slot: 0, tag: 1))).encode(),
                             to: peer)
        let (newPeer, again) = try nextHello()
        #expect(newPeer != peer, "a fresh session: a new connection")
        #expect(again.sharedMemory == nil, "a fresh session starts with a plain hello")
        #expect(!FileManager.default.fileExists(atPath: offer.resultsPath), "the old session's region is gone")
    }
}
