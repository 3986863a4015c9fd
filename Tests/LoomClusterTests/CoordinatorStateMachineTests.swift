// The coordinator's state machine over the in-memory transport.

import Foundation
import LoomCluster
import LoomTraining
import LoomWire
import Testing

@Suite(.serialized) struct CoordinatorStateMachineTests {
    @Test(arguments: [1, 2, 3])
    func theReducedStepDoesNotDependOnTheNumberOfWorkers(workers: Int) throws {
        let c = try InMemoryCluster()
        for _ in 0..<workers { c.startWorker() }
        #expect(c.executor.waitForWorkers(workers, timeout: .seconds(10)) == workers)
        let result = try c.executor.execute(plan: c.state.plan(step: 0), state: c.state)
        #expect(sameBits(result, try c.localResult(step: 0)))
        c.stopWorkers()
    }

    @Test func theBlocksOfADeadWorkerAreReassigned() throws {
        // The default timeout (5 s): only the silent worker can reach it. The real worker
        // heartbeats every 20 ms; the silent one heartbeats too until it is given its block
        // (so it cannot die before the other joined and the step was cut for two), then never
        // answers again.
        let c = try InMemoryCluster()
        // It joins first, so it gets work.
        let silent = c.network.connectWorker()
        try silent.send(.hello(Hello(hostname: "silent", pid: 1, cores: 1, datasetFingerprint: "", hasLocalData: false)),
                        to: .coordinator)
        #expect(c.executor.waitForWorkers(1, timeout: .seconds(5)) == 1)
        let beats = FakeHeartbeat(silent, runID: c.runID, untilAssigned: true)
        defer { beats.stop() }
        c.startWorker()
        #expect(c.executor.waitForWorkers(2, timeout: .seconds(10)) == 2)
        let result = try c.executor.execute(plan: c.state.plan(step: 0), state: c.state)
        #expect(beats.gotAssignment, "the silent worker was given a block")
        #expect(sameBits(result, try c.localResult(step: 0)))
        #expect(c.executor.statistics.workersLost == 1)
        #expect(c.executor.statistics.blocksReassigned >= 1)
        c.stopWorkers()
    }

    @Test func aWorkerDeclaredDeadThatSpeaksAgainIsTakenBack() throws {
        // 1 s: the worker must not die inside `waitForWorkers`, between its hello and the
        // check that it joined, however long the test thread is kept off the CPU there.
        let c = try InMemoryCluster(timeoutMs: 1000)
        let slow = c.network.connectWorker()
        try slow.send(.hello(Hello(hostname: "slow", pid: 1, cores: 1, datasetFingerprint: "", hasLocalData: false)),
                      to: .coordinator)
        #expect(c.executor.waitForWorkers(1, timeout: .seconds(5)) == 1)
        Thread.sleep(forTimeInterval: 1.1)
        c.executor.idle()
        #expect(c.executor.liveWorkers.isEmpty)
        try slow.send(.heartbeat(Heartbeat(runID: c.runID, step: 0, weightsVersion: 0)), to: .coordinator)
        c.executor.idle()
        #expect(c.executor.liveWorkers.map(\.hostname) == ["slow"])
        #expect(c.executor.rejects.total == 0)
    }

    @Test func duplicateAndStaleResultsAreCountedAndIgnored() throws {
        let c = try InMemoryCluster()
        let fake = c.network.connectWorker()
        try fake.send(.hello(Hello(hostname: "fake", pid: 1, cores: 1, datasetFingerprint: "", hasLocalData: false)),
                      to: .coordinator)
        #expect(c.executor.waitForWorkers(1, timeout: .seconds(5)) == 1)
        // The fake's answers are queued before the step starts: its one block is [0, 4).
        let p = c.problem.model.parameters.count, b = c.problem.model.buffers.count
        func result(step: UInt64, gradient: Float) -> Message {
            .result(BlockResult(runID: c.runID, step: step, epoch: 0, weightsVersion: step, firstShard: 0, shardCount: 4,
                                gradientSum: [Float](repeating: gradient, count: p), batchNormStatistics: [Float](repeating: 0, count: b),
                                metricSums: [Double](repeating: 0, count: 4), sampleCounts: [4]))
        }
        try fake.send(result(step: 0, gradient: 1), to: .coordinator)
        try fake.send(result(step: 0, gradient: 2), to: .coordinator)
        try fake.send(result(step: 7, gradient: 3), to: .coordinator)
        let reduced = try c.executor.execute(plan: c.state.plan(step: 0), state: c.state)
        c.executor.idle()
        #expect(reduced.gradients.allSatisfy { $0 == 1 })
        #expect(c.executor.rejects["duplicate result"] == 1)
        #expect(c.executor.rejects["stale result"] == 1)
    }

    @Test func malformedFramesAreCountedAndDropped() throws {
        let c = try InMemoryCluster()
        let stranger = PeerID([7, 7, 7])
        c.network.inject([[1, 2, 3]], from: stranger)
        c.network.inject([], from: stranger)
        var wrongVersion = Message.heartbeat(Heartbeat(runID: c.runID, step: 0, weightsVersion: 0)).encode()
        wrongVersion[0][4] = 1  // the version before this one
        c.network.inject(wrongVersion, from: stranger)
        c.network.inject(Message.heartbeat(Heartbeat(runID: 1234, step: 0, weightsVersion: 0)).encode(), from: stranger)
        c.network.inject(Message.heartbeat(Heartbeat(runID: c.runID, step: 0, weightsVersion: 0)).encode(), from: stranger)
        for _ in 0..<3 { c.executor.idle() }
        let r = c.executor.rejects
        #expect(r.total == 5)
        #expect(r["bad header size"] == 2 && r["wrong protocol version"] == 1 && r["wrong run id"] == 1 && r["unknown peer"] == 1)
    }

    @Test func evaluationLogitsComeBackInSampleOrder() throws {
        let c = try InMemoryCluster()
        c.startWorker(); c.startWorker()
        #expect(c.executor.waitForWorkers(2, timeout: .seconds(10)) == 2)
        let indices = Array((0..<40).reversed())
        let logits = try c.executor.predict(split: "test", indices: indices, state: c.state, tta: false)
        let images = try c.source.images(split: "test", indices: indices)
        let local = try images.withUnsafeBufferPointer {
            try ShardComputer(problem: c.problem, microBatch: 4).predict(images: $0.baseAddress!, count: 40,
                                                                          parameters: c.state.parameters, buffers: c.state.buffers)
        }
        #expect(logits == local)
        c.stopWorkers()
    }

    @Test func sampleRecordsRoundTrip() throws {
        let images: [UInt8] = (0..<12).map { UInt8($0) }
        let packed = SampleRecords.pack(images: images, labels: [[3, -1, 7]], pixels: 4)
        let data = try SampleRecords.unpack(packed, ids: [10, 11, 12], pixels: 4, heads: 1)
        #expect(data.images == images)
        #expect(data.labels == [[3, -1, 7]])
        #expect(throws: SampleRecordsError.self) { try SampleRecords.unpack(packed, ids: [10, 11], pixels: 4, heads: 1) }
    }
}
