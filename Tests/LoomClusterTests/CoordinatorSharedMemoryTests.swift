// The coordinator's side of shared memory over the in-memory transport, with the test as a
// worker on this machine: real regions in /dev/shm, the handshake, a torn result refused and
// computed again, offers and shared results that do not check out.

import Foundation
import LoomTestSupport
import LoomCluster
import LoomTraining
import LoomWire
import Testing

@Suite(.serialized) struct CoordinatorSharedMemoryTests {
    /// The test as a worker: says hello and reads the welcome.
    final class FakeWorker {
        let transport: Transport
        let welcome: Welcome
        init(_ c: InMemoryCluster, hostname: String = "fake") throws {
            transport = c.network.connectWorker()
            try transport.send(.hello(FakeWorker.hello(hostname)), to: .coordinator)
            #expect(c.executor.waitForWorkers(1, timeout: .seconds(5)) == 1)
            welcome = try #require(try FakeWorker.next(transport) { if case .welcome(let w) = $0 { w } else { nil } })
        }
        /// Maps the offered weights region, makes a results region, offers both in a second
        /// hello and lets the coordinator take it in.
        func takeSharedMemory(_ c: InMemoryCluster) throws -> (weights: SharedRegion, results: SharedRegion) {
            let weights = try SharedRegion.open(path: welcome.sharedWeightsPath)
            let results = try SharedRegion.create(kind: "results", slotCount: 2, slotBytes: 4 * c.problem.model.parameters.count)
            let offer = SharedMemoryOffer(weightsToken: weights.tokenHex, resultsPath: results.path, resultsToken: results.tokenHex)
            try transport.send(.hello(FakeWorker.hello("fake", offer: offer)), to: .coordinator)
            c.executor.idle()
            return (weights, results)
        }

        static func hello(_ name: String, offer: SharedMemoryOffer? = nil) -> Hello {
            Hello(hostname: name, pid: 1, cores: 1, datasetFingerprint: "", hasLocalData: false, sharedMemory: offer)
        }
        /// The next message that `pick` takes, within 10 s (others are skipped).
        static func next<T>(_ t: Transport, _ pick: (Message) -> T?) throws -> T? {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                guard let e = try t.receive(timeout: .milliseconds(20)),
                      let m = try? Message.decode(e.frames, expectedRunID: nil) else { continue }
                if let value = pick(m) { return value }
            }
            return nil
        }
    }

    static func wire(_ r: LoomTraining.ShardResult, runID: UInt64, first: UInt32 = 0, shared: SharedSlot?) -> LoomWire.ShardResult {
        LoomWire.ShardResult(runID: runID, step: 0, epoch: 0, weightsVersion: 0, firstShard: first, shardCount: UInt32(r.shardCount),
                    gradientSum: shared == nil ? r.gradients : [], batchNormStatistics: r.batchStatistics,
                    metricSums: r.headSums, sampleCounts: [UInt64(r.shardCount)], sharedGradient: shared)
    }

    @Test func weightsAndGradientsGoThroughSharedMemoryAndATornResultIsComputedAgain() throws {
        let c = try InMemoryCluster()
        let fake = try FakeWorker(c)
        let p = c.problem.model.parameters.count
        let (weights, results) = try fake.takeSharedMemory(c)
        #expect(c.executor.liveWorkers.map(\.sharedMemory) == [true])

        let expected = try c.localResult(step: 0)
        let executor = c.executor, state = c.state
        let outcome = Locked<Result<LoomTraining.ShardResult, TrainingError>?>(nil)
        let step = Thread { outcome.withValue { $0 = Result { () throws(TrainingError) in try executor.execute(plan: state.plan(step: 0), state: state) } } }
        step.start()

        // The weights: a slot reference, and the parameters in that slot.
        let update = try #require(try FakeWorker.next(fake.transport) { if case .weights(let w) = $0 { w } else { nil } })
        let slot = try #require(update.shared, "a worker with shared memory gets a slot reference")
        #expect(update.parameters.isEmpty && slot == SharedSlot(slot: 0, tag: 1))
        var parameters = [Float](repeating: 0, count: p)
        #expect(parameters.withUnsafeMutableBytes { weights.read(slot: 0, tag: 1, into: $0) })
        #expect(parameters.map(\.bitPattern) == c.state.parameters.map(\.bitPattern))
        let first = try #require(try FakeWorker.next(fake.transport) { if case .assignment(let a) = $0 { a } else { nil } })
        #expect(first.sharedResult, "the assignment asks for the gradient through shared memory")

        // Publish under tag 1 but name tag 2: the coordinator cannot read it, refuses it, and
        // gives the block out again (to the only worker there is).
        expected.gradients.withUnsafeBytes { results.write(slot: 1, tag: 1, payload: $0) }
        try fake.transport.send(.result(Self.wire(expected, runID: c.runID, shared: SharedSlot(slot: 1, tag: 2))), to: .coordinator)
        let again = try #require(try FakeWorker.next(fake.transport) { if case .assignment(let a) = $0 { a } else { nil } })
        #expect(again.firstShard == first.firstShard && again.shardCount == first.shardCount)
        try fake.transport.send(.result(Self.wire(expected, runID: c.runID, shared: SharedSlot(slot: 1, tag: 1))), to: .coordinator)

        let deadline = Date().addingTimeInterval(10)
        while !step.isFinished && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let reduced = try #require(outcome.current).get()
        #expect(sameBits(reduced, expected))
        #expect(c.executor.rejects["unreadable shared payload"] == 1)
        #expect(c.executor.statistics.blocksReassigned == 1)
        #expect(c.executor.statistics.sharedBytes == 2 * 4 * p, "weights published once, one gradient read")
    }

    @Test func afterThreeUnreadableResultsTheWorkerGetsTheSocket() throws {
        let c = try InMemoryCluster()
        let fake = try FakeWorker(c)
        let p = c.problem.model.parameters.count
        let (weights, results) = try fake.takeSharedMemory(c)
        let expected = try c.localResult(step: 0)
        let executor = c.executor, state = c.state
        let outcome = Locked<Result<LoomTraining.ShardResult, TrainingError>?>(nil)
        let step = Thread { outcome.withValue { $0 = Result { () throws(TrainingError) in try executor.execute(plan: state.plan(step: 0), state: state) } } }
        step.start()
        var sharedFlags: [Bool] = []
        for attempt in 0..<4 {
            let a = try #require(try FakeWorker.next(fake.transport) { if case .assignment(let a) = $0 { a } else { nil } })
            sharedFlags.append(a.sharedResult)
            // Three results naming a slot that holds nothing, then the gradient in the message.
            let slot: SharedSlot? = attempt < 3 ? SharedSlot(slot: 0, tag: 99) : nil
            try fake.transport.send(.result(Self.wire(expected, runID: c.runID, shared: slot)), to: .coordinator)
        }
        let deadline = Date().addingTimeInterval(10)
        while !step.isFinished && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(sameBits(try #require(outcome.current).get(), expected))
        #expect(sharedFlags == [true, true, true, false], "the 4th assignment asks for the gradient in the message")
        #expect(c.executor.rejects["unreadable shared payload"] == 3)
        #expect(c.executor.liveWorkers.map(\.sharedMemory) == [false])
    }

    @Test func anOfferQuotingAnotherTokenIsRefusedAndTheWorkerKeepsTheSocket() throws {
        let c = try InMemoryCluster()
        let fake = try FakeWorker(c)
        let results = try SharedRegion.create(kind: "results", slotCount: 2, slotBytes: 4 * c.problem.model.parameters.count)
        let offer = SharedMemoryOffer(weightsToken: String(repeating: "00", count: 16), resultsPath: results.path,
                                      resultsToken: results.tokenHex)
        try fake.transport.send(.hello(FakeWorker.hello("fake", offer: offer)), to: .coordinator)
        c.executor.idle()
        #expect(c.executor.liveWorkers.map(\.sharedMemory) == [false])
        // Its results region named under a wrong token is refused the same way.
        let weights = try SharedRegion.open(path: fake.welcome.sharedWeightsPath)
        let wrong = SharedMemoryOffer(weightsToken: weights.tokenHex, resultsPath: results.path,
                                      resultsToken: String(repeating: "11", count: 16))
        try fake.transport.send(.hello(FakeWorker.hello("fake", offer: wrong)), to: .coordinator)
        c.executor.idle()
        #expect(c.executor.liveWorkers.map(\.sharedMemory) == [false])
        #expect(c.executor.rejects.total == 0, "a refused offer is not a bad message")
    }

    @Test func aSharedResultFromAWorkerWithoutSharedMemoryIsRejected() throws {
        let c = try InMemoryCluster()
        let fake = try FakeWorker(c)
        let expected = try c.localResult(step: 0)
        // Queued before the step: a shared result (refused), then the same sent in full.
        try fake.transport.send(.result(Self.wire(expected, runID: c.runID, shared: SharedSlot(slot: 0, tag: 1))), to: .coordinator)
        try fake.transport.send(.result(Self.wire(expected, runID: c.runID, shared: nil)), to: .coordinator)
        let reduced = try c.executor.execute(plan: c.state.plan(step: 0), state: c.state)
        #expect(sameBits(reduced, expected))
        #expect(c.executor.rejects["unexpected shared payload"] == 1)
    }

    @Test func withSharedMemoryOffTheWelcomeOffersNone() throws {
        let c = try InMemoryCluster(sharedMemory: false)
        let fake = try FakeWorker(c)
        #expect(fake.welcome.sharedWeightsPath.isEmpty)
    }

    /// Real `Worker`s in this process take the offer by themselves, and the step is the
    /// one-process step bit for bit.
    @Test func realWorkersUseSharedMemoryAndTheStepIsUnchanged() throws {
        let c = try InMemoryCluster()
        c.startWorker()
        c.startWorker()
        #expect(c.executor.waitForWorkers(2, timeout: .seconds(10)) == 2)
        let deadline = Date().addingTimeInterval(10)
        while c.executor.liveWorkers.contains(where: { !$0.sharedMemory }) && Date() < deadline { c.executor.idle() }
        #expect(c.executor.liveWorkers.map(\.sharedMemory) == [true, true])
        let result = try c.executor.execute(plan: c.state.plan(step: 0), state: c.state)
        #expect(sameBits(result, try c.localResult(step: 0)))
        // The weights once, and both workers' gradient sums (one block each).
        #expect(c.executor.statistics.sharedBytes == 3 * 4 * c.problem.model.parameters.count)
        #expect(c.executor.rejects.total == 0)
        c.stopWorkers()
    }
}

