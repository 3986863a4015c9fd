// A real `Worker` over the in-memory transport, with this test as its coordinator: an
// assignment whose sample records carry a target value no dataset may hold stops the worker
// with an error naming the step, the sample, the head and the label (docs/PROTOCOL.md).

import Foundation
import Logging
import LoomConfig
import LoomTestSupport
import LoomTraining
import LoomWire
import Testing
@testable import LoomCluster

@Suite struct WorkerBadRecordTests {
    @Test func aRecordWithABadTargetStopsTheWorkerNamingStepSampleHeadAndLabel() throws {
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/mlp.yaml").path
        let config = try ConfigLoader.parse(yaml: """
            name: bad-target
            model: {file: \(model)}
            heads:
              - {name: tags, kind: multilabel, classes: 4, layer: head_tags}
            optimizer: {kind: sgd, lr: 0.01}
            training: {batch_size: 8, micro_batch: 4, epochs: 1}
            """, source: "test", defaultName: "bad-target")
        let problem = try TrainingProblem.synthetic(config: config)
        let pixels = problem.imageShape.elementCount

        let hub = InMemoryNetwork()
        let coordinator = hub.bindCoordinator()
        var options = WorkerOptions(endpoint: "in-memory")
        options.useLocalData = false
        let worker = Worker(options: options, logger: Logger(label: "test.worker"), stop: StopFlag(),
                            makeTransport: { hub.connectWorker() })
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: Error?
        Thread {
            do { try worker.run() } catch { failure = error }
            finished.signal()
        }.start()

        func next() throws -> (PeerID, Message) {
            let envelope = try #require(try coordinator.receive(timeout: Duration.seconds(10)), "the worker said nothing")
            return (envelope.peer, try Message.decode(envelope.frames, expectedRunID: nil))
        }
        let (peer, hello) = try next()
        guard case .hello = hello else { Issue.record("expected a hello, got \(hello)"); return }
        let runID: UInt64 = 7
        let description = RunDescription(problem: problem, datasetFingerprint: "none")
        try coordinator.send(Message.welcome(Welcome(runID: runID, configYAML: config.yaml, runJSON: description.json())).encode(), to: peer)
        let (parameters, buffers) = problem.model.initialParameters(seed: 1)
        try coordinator.send(Message.weights(WeightsUpdate(runID: runID, step: 0, weightsVersion: 0,
                                                           parameters: parameters, buffers: buffers)).encode(), to: peer)
        // One micro-shard of 4 samples (ids 10...13); sample 12's label 2 has target 2.
        var targets = GroundTruth.synthetic(heads: problem.heads, count: 4).targets
        targets[0][2 * 4 + 2] = 2
        let records = SampleRecords.pack(images: [UInt8](repeating: 9, count: 4 * pixels),
                                         labels: [[Int32](repeating: -1, count: 4)], targets: targets, pixels: pixels)
        try coordinator.send(Message.assignment(Assignment(runID: runID, step: 0, epoch: 0, weightsVersion: 0, firstShard: 0,
                                                           shardSampleCounts: [4], sampleIndices: [10, 11, 12, 13],
                                                           sampleRecords: records, headScales: [0.125])).encode(), to: peer)

        #expect(finished.wait(timeout: .now() + 30) == .success, "the worker did not stop")
        let message = "\(try #require(failure, "the worker trained on a bad target"))"
        for needle in ["step 0", "sample 12", "target 2.0", "label 2", "head 'tags'"] {
            #expect(message.contains(needle), "'\(needle)' missing from: \(message)")
        }
    }
}
