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
        /// `live`: how many workers are live once this one joined.
        init(_ c: InMemoryCluster, hostname: String = "fake", live: Int = 1) throws {
            transport = c.network.connectWorker()
            try transport.send(.hello(FakeWorker.hello(hostname)), to: .coordinator)
            #expect(c.executor.waitForWorkers(live, timeout: .seconds(5)) == live)
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

    /// Step 0 on a thread of its own, while the test plays the workers.
    final class StepThread {
        private let thread: Thread
        private let outcome: Locked<Result<ShardResult, TrainingError>?>
        init(_ c: InMemoryCluster) {
            let executor = c.executor, state = c.state
            let outcome = Locked<Result<ShardResult, TrainingError>?>(nil)
            self.outcome = outcome
            thread = Thread { outcome.withValue { $0 = Result { () throws(TrainingError) in try executor.execute(plan: state.plan(step: 0), state: state) } } }
            thread.start()
        }
        var isFinished: Bool { thread.isFinished }
        /// The step's result, once it returns (within 10 s).
        func finish() throws -> ShardResult {
            let deadline = Date().addingTimeInterval(10)
            while !thread.isFinished && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            // The thread holds `outcome` until the step returns.
            try #require(thread.isFinished, "the step completes within 10 s")
            return try #require(outcome.current).get()
        }
    }

    static func wire(_ r: ShardResult, runID: UInt64, first: UInt32 = 0, shared: SharedSlot?) -> BlockResult {
        BlockResult(runID: runID, step: 0, epoch: 0, weightsVersion: 0, firstShard: first, shardCount: UInt32(r.shardCount),
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
        let step = StepThread(c)

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

        let reduced = try step.finish()
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
        let step = StepThread(c)
        var sharedFlags: [Bool] = []
        for attempt in 0..<4 {
            let a = try #require(try FakeWorker.next(fake.transport) { if case .assignment(let a) = $0 { a } else { nil } })
            sharedFlags.append(a.sharedResult)
            // Three results naming a slot that holds nothing, then the gradient in the message.
            let slot: SharedSlot? = attempt < 3 ? SharedSlot(slot: 0, tag: 99) : nil
            try fake.transport.send(.result(Self.wire(expected, runID: c.runID, shared: slot)), to: .coordinator)
        }
        #expect(sameBits(try step.finish(), expected))
        #expect(sharedFlags == [true, true, true, false], "the 4th assignment asks for the gradient in the message")
        #expect(c.executor.rejects["unreadable shared payload"] == 3)
        #expect(c.executor.liveWorkers.map(\.sharedMemory) == [false])
    }

    /// Block `block` of step 0 computed in this process, as a worker would.
    static func blockResult(_ c: InMemoryCluster, _ block: ShardBlock) throws -> ShardResult {
        let plan = c.state.plan(step: 0)
        let work = plan.work(block, seed: c.problem.config.training.seed)
        let ids = work.sampleIDs
        let data = ShardData(count: ids.count, images: try c.source.images(split: "train", indices: ids),
                             labels: c.state.truth(of: ids[...]).labels)
        return try ShardComputer(problem: c.problem, microBatch: 4)
            .compute(work, data: data, parameters: c.state.parameters, buffers: c.state.buffers)
    }

    /// The next assignment for `fake`, sending heartbeats meanwhile (so that it stays live).
    static func nextAssignment(_ fake: FakeWorker, runID: UInt64) throws -> Assignment? {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            try fake.transport.send(.heartbeat(Heartbeat(runID: runID, step: 0, weightsVersion: 0)), to: .coordinator)
            if let e = try fake.transport.receive(timeout: .milliseconds(20)),
               case .assignment(let a)? = try? Message.decode(e.frames, expectedRunID: nil) {
                return a
            }
        }
        return nil
    }

    /// A fake worker of a running step: its results region (nil: it uses the socket), the
    /// block it was given and that block's result computed in this process.
    struct Member {
        let fake: FakeWorker
        let results: SharedRegion?
        let work: Assignment
        let value: ShardResult

        /// Sends `value` (default: the block's result), its gradient in `slot` of the
        /// worker's region when given (written there first, unless `again`), else in the message.
        func send(_ value: ShardResult? = nil, slot: SharedSlot? = nil, again: Bool = false, runID: UInt64) throws {
            let v = value ?? self.value
            if let slot, let results, !again {
                v.gradients.withUnsafeBytes { results.write(slot: Int(slot.slot), tag: slot.tag, payload: $0) }
            }
            try fake.transport.send(.result(wire(v, runID: runID, first: work.firstShard, shared: slot)), to: .coordinator)
        }
    }

    /// Fake workers w0, w1, ... (worker i with shared memory when `shared[i]`), step 0
    /// running, and each worker's block (one each, in join order).
    static func startStep(shared: [Bool], audit: Double = 0) throws -> (InMemoryCluster, StepThread, [Member]) {
        let c = try InMemoryCluster(timeoutMs: 5000, audit: audit)
        var joined: [(FakeWorker, SharedRegion?)] = []
        for (i, isShared) in shared.enumerated() {
            let fake = try FakeWorker(c, hostname: "w\(i)", live: i + 1)
            joined.append((fake, isShared ? try fake.takeSharedMemory(c).results : nil))
        }
        #expect(c.executor.liveWorkers.map(\.sharedMemory) == shared)
        let step = StepThread(c)
        let members = try joined.map { fake, results in
            let work = try #require(try nextAssignment(fake, runID: c.runID))
            #expect(work.sharedResult == (results != nil))
            let value = try blockResult(c, ShardBlock(start: Int(work.firstShard), count: work.shardCount))
            return Member(fake: fake, results: results, work: work, value: value)
        }
        return (c, step, members)
    }

    /// A gradient left in shared memory is read when the step's last result is in, not when
    /// it arrives (then a worker of this machine may still be computing on the core the copy
    /// would take): a slot overwritten in between is unreadable, and its block is computed again.
    @Test func sharedGradientsAreReadOnceEveryResultIsIn() throws {
        let (c, step, members) = try Self.startStep(shared: [true, true])
        let a = members[0], b = members[1]
        try a.send(slot: SharedSlot(slot: 1, tag: 1), runID: c.runID)
        // Long enough for the coordinator to take the result in (it polls every 20 ms).
        Thread.sleep(forTimeInterval: 0.3)
        // The slot changes before b's result: had the coordinator copied it already, this
        // would go unnoticed.
        b.value.gradients.withUnsafeBytes { a.results!.write(slot: 1, tag: 2, payload: $0) }
        try b.send(slot: SharedSlot(slot: 1, tag: 1), runID: c.runID)
        let again = try #require(try Self.nextAssignment(a.fake, runID: c.runID), "a's block goes out again")
        #expect(again.firstShard == a.work.firstShard && again.shardCount == a.work.shardCount)
        try a.send(slot: SharedSlot(slot: 0, tag: 3), runID: c.runID)

        #expect(sameBits(try step.finish(), try c.localResult(step: 0)))
        #expect(c.executor.rejects["unreadable shared payload"] == 1)
        #expect(c.executor.statistics.blocksReassigned == 1)
    }

    /// Gradient sums left in shared memory are summed where they lie, with results that
    /// came in the message, in the tree's order: with `shared[i]`, fake worker i takes the
    /// offer (and the step's block i). One worker on the socket makes a left or a right
    /// operand that the job keeps; three or four make sums of sums (blocks [0,1), [1,2),
    /// [2,4) with three).
    @Test(arguments: [[true, false], [false, true], [true, true, true], [false, false, true],
                      [true, true, true, true], [true, false, true, true]])
    func sharedAndInlineGradientsSumInTheTreeOrder(shared: [Bool]) throws {
        let (c, step, members) = try Self.startStep(shared: shared)
        for m in members { try m.send(slot: m.results == nil ? nil : SharedSlot(slot: 1, tag: 1), runID: c.runID) }
        #expect(sameBits(try step.finish(), try c.localResult(step: 0)))
        #expect(c.executor.rejects.total == 0)
        let p = c.problem.model.parameters.count
        #expect(c.executor.statistics.sharedGradientBytes == 4 * p * shared.filter { $0 }.count)
        #expect(c.executor.statistics.sharedGradientsSummedInPlace == 1, "summed where they lie, not copied out")
    }

    /// Finite gradients whose sum overflows: the sum where they lie is abandoned, with the
    /// result the job keeps (the left operand, sent in the message) untouched, and the
    /// gradients copied out give the same sum, infinite, for the step's own check to refuse.
    @Test func anOverflowingSumFallsBackWithTheKeptResultIntact() throws {
        let (c, step, members) = try Self.startStep(shared: [false, true])
        var aValue = members[0].value, bValue = members[1].value
        aValue.gradients[5] = .greatestFiniteMagnitude
        bValue.gradients[5] = .greatestFiniteMagnitude
        try members[0].send(aValue, runID: c.runID)
        try members[1].send(bValue, slot: SharedSlot(slot: 1, tag: 1), runID: c.runID)
        var expected = aValue
        expected.add(bValue)
        let reduced = try step.finish()
        #expect(reduced.gradients[5] == .infinity)
        #expect(sameBits(reduced, expected), "a + b, with a as it came")
        #expect(c.executor.rejects.total == 0)
        #expect(c.executor.statistics.sharedGradientsSummedInPlace == 0)
    }

    /// A gradient sum in shared memory that is not finite makes the sum not finite: the step
    /// then reads each gradient on its own, rejects that one, and gives its block to the
    /// other worker, to tell a divergence (which it would reproduce) from a broken worker; a
    /// good result for the block, from either, completes the step.
    @Test func aNonFiniteSharedGradientIsFoundAndAnotherWorkerIsAsked() throws {
        let (c, step, members) = try Self.startStep(shared: [true, true])
        let a = members[0]
        var poisoned = a.value
        poisoned.gradients[poisoned.gradients.count / 2] = .nan
        try a.send(poisoned, slot: SharedSlot(slot: 1, tag: 1), runID: c.runID)
        try members[1].send(slot: SharedSlot(slot: 1, tag: 1), runID: c.runID)
        // The good result, then its message again until the step is done: one that arrives
        // before the coordinator has looked at the step's gradients is a duplicate.
        try a.send(slot: SharedSlot(slot: 0, tag: 2), runID: c.runID)
        let deadline = Date().addingTimeInterval(10)
        while !step.isFinished && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            if !step.isFinished { try a.send(slot: SharedSlot(slot: 0, tag: 2), again: true, runID: c.runID) }
        }

        #expect(sameBits(try step.finish(), try c.localResult(step: 0)))
        #expect(c.executor.rejects["non-finite values"] == 1)
        #expect(c.executor.rejects.total == 1 + c.executor.rejects["duplicate result"])
        #expect(c.executor.statistics.blocksReassigned == 1)
    }

    /// What a shared result carries in the message is checked when it arrives, as for a
    /// result sent whole: a wrong shape is rejected at once and the worker sends it again.
    @Test func aSharedResultOfTheWrongShapeIsRejectedOnArrival() throws {
        let c = try InMemoryCluster(timeoutMs: 5000)
        let fake = try FakeWorker(c)
        let (_, results) = try fake.takeSharedMemory(c)
        let expected = try c.localResult(step: 0)
        let step = StepThread(c)
        _ = try #require(try Self.nextAssignment(fake, runID: c.runID))
        expected.gradients.withUnsafeBytes { results.write(slot: 1, tag: 1, payload: $0) }
        var wrong = Self.wire(expected, runID: c.runID, shared: SharedSlot(slot: 1, tag: 1))
        wrong.metricSums.append(0)
        try fake.transport.send(.result(wrong), to: .coordinator)
        // Had the wrong one been taken in, this would be a duplicate and the step never end.
        try fake.transport.send(.result(Self.wire(expected, runID: c.runID, shared: SharedSlot(slot: 1, tag: 1))), to: .coordinator)
        #expect(sameBits(try step.finish(), expected))
        #expect(c.executor.rejects["bad result shape"] == 1)
        #expect(c.executor.rejects.total == 1)
    }

    /// A worker that gets another block of the same step (its peer died) may write that
    /// result into the slot of the one it left: the coordinator reads the left one before the
    /// new assignment goes out, so nothing is computed twice.
    @Test func aWorkerGivenMoreOfTheStepHasItsLeftGradientReadFirst() throws {
        // The default timeout (5 s), and only the silent worker can reach it: a heartbeats on a
        // thread of its own throughout; the silent one heartbeats until it is given its block
        // (so it cannot die before a's block was cut from a step for two), then goes silent.
        let c = try InMemoryCluster()
        let a = try FakeWorker(c, hostname: "a")
        let aBeats = FakeHeartbeat(a.transport, runID: c.runID)
        defer { aBeats.stop() }
        let (_, aResults) = try a.takeSharedMemory(c)
        let silent = try FakeWorker(c, hostname: "silent", live: 2)
        let silentBeats = FakeHeartbeat(silent.transport, runID: c.runID, untilAssigned: true)
        defer { silentBeats.stop() }
        _ = try silent.takeSharedMemory(c)
        let step = StepThread(c)
        let first = try #require(try Self.nextAssignment(a, runID: c.runID))
        let firstValue = try Self.blockResult(c, ShardBlock(start: Int(first.firstShard), count: first.shardCount))
        firstValue.gradients.withUnsafeBytes { aResults.write(slot: 1, tag: 1, payload: $0) }
        try a.transport.send(.result(Self.wire(firstValue, runID: c.runID, first: first.firstShard, shared: SharedSlot(slot: 1, tag: 1))),
                             to: .coordinator)
        // The silent worker is declared dead and its block comes to a, which writes that
        // result over the same slot.
        #expect(silentBeats.waitForAssignment(), "the silent worker was given a block")
        let second = try #require(try Self.nextAssignment(a, runID: c.runID), "the dead worker's block comes to a")
        #expect(second.firstShard != first.firstShard)
        let secondValue = try Self.blockResult(c, ShardBlock(start: Int(second.firstShard), count: second.shardCount))
        secondValue.gradients.withUnsafeBytes { aResults.write(slot: 1, tag: 2, payload: $0) }
        try a.transport.send(.result(Self.wire(secondValue, runID: c.runID, first: second.firstShard, shared: SharedSlot(slot: 1, tag: 2))),
                             to: .coordinator)

        #expect(sameBits(try step.finish(), try c.localResult(step: 0)))
        #expect(c.executor.rejects.total == 0)
        #expect(c.executor.statistics.workersLost == 1 && c.executor.statistics.blocksReassigned == 1)
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

