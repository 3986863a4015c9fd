// A coordinator and workers over LoomWire's InMemoryNetwork: the state machines without
// sockets or processes.

import Foundation
import Logging
import LoomCluster
import LoomConfig
import LoomData
import LoomKernels
import LoomTestSupport
import LoomTraining
import LoomWire

/// A small MLP problem with synthetic data: batch 16 in 4 micro-shards of 4.
///
/// The default worker timeout is long (5 s): a test thread or worker thread that stalls for a
/// moment on a loaded machine must not get a worker declared dead. Tests about a worker's
/// death keep the others live (real workers heartbeat every 20 ms; fake ones use
/// `FakeHeartbeat`) and let only the victim go silent.
final class InMemoryCluster {
    let network = InMemoryNetwork()
    let problem: TrainingProblem
    let state: TrainingState
    let source: SyntheticSampleSource
    let executor: ClusterExecutor
    let runID: UInt64 = 0xC0FFEE
    private var stops: [StopFlag] = []
    private var finished: [DispatchSemaphore] = []

    /// `audit`: `cluster.audit` (0 here by default: the tests of other things must not
    /// meet an audit copy they do not answer).
    init(timeoutMs: Int = 5000, sharedMemory: Bool = true, audit: Double = 0) throws {
        // As the CLI does (KernelSetup): OpenBLAS on one thread, or sgemm may split its sums
        // differently from one call to the next and the bitwise comparisons fail on a many-core host.
        BLAS.useSingleThread()
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/mlp.yaml").path
        let config = try ConfigLoader.parse(yaml: """
            name: unit
            model: {file: \(model)}
            data: {path: /nonexistent/data.h5}
            training: {batch_size: 16, micro_batch: 4, seed: 3, epochs: 10}
            cluster: {heartbeat_ms: 20, worker_timeout_ms: \(timeoutMs), shared_memory: \(sharedMemory), audit: \(audit)}
            """, source: "unit", defaultName: "unit")
        let shape = ImageShape(height: 28, width: 28, channels: 1)
        let heads = config.heads.map { ResolvedHead(name: $0.name, kind: $0.kind, attribute: $0.attribute, classes: 10,
                                                    classNames: (0..<10).map { "c\($0)" }, classWeights: nil) }
        problem = try TrainingProblem(config: config, heads: heads, imageShape: shape)
        state = try TrainingState(problem: problem, trainLabels: [(0..<64).map { Int32($0 % 10) }],
                                  trainIndices: Array(0..<64), validationIndices: [])
        source = SyntheticSampleSource(imageShape: shape)
        var logger = Logger(label: "test.coordinator")
        logger.logLevel = .critical
        executor = ClusterExecutor(transport: network.bindCoordinator(), runID: runID, problem: problem, source: source,
                                   logger: logger, options: ClusterOptions(config: config.cluster))
    }

    deinit { stopWorkers() }

    /// Starts a real `Worker` on its own thread (no local data: samples come as records).
    func startWorker() {
        let stop = StopFlag()
        let done = DispatchSemaphore(value: 0)
        var options = WorkerOptions(endpoint: "inmemory")
        options.useLocalData = false
        var logger = Logger(label: "test.worker")
        logger.logLevel = .critical
        let network = self.network
        let worker = Worker(options: options, logger: logger, stop: stop) { () throws(TransportError) -> Transport in
            network.connectWorker()
        }
        let thread = Thread { try? worker.run(); done.signal() }
        thread.start()
        stops.append(stop)
        finished.append(done)
    }

    func stopWorkers() {
        for s in stops { s.requestStop() }
        for d in finished { d.wait() }
        stops = []; finished = []
    }

    /// The step computed in this process, in one block (what `LocalExecutor` does).
    func localResult(step: Int) throws -> ShardResult {
        let plan = state.plan(step: step)
        let ids = plan.sampleIndices
        let data = ShardData(count: ids.count, images: try source.images(split: "train", indices: ids),
                             labels: state.truth(of: ids[...]).labels)
        return try ShardComputer(problem: problem, microBatch: 4)
            .compute(plan.work(ShardBlock(start: 0, count: plan.shardCount), seed: problem.config.training.seed),
                     data: data, parameters: state.parameters, buffers: state.buffers)
    }
}

/// Heartbeats from a fake worker's transport every 20 ms, on a thread of its own, so that
/// the coordinator keeps it live whatever the test thread is doing. With `untilAssigned` the
/// thread also reads the worker's messages and stops at its first assignment: from then on
/// the worker is silent (the victim of a test about dead workers), and it cannot die before.
final class FakeHeartbeat {
    private let stopFlag = Locked(false)
    private let done = DispatchSemaphore(value: 0)
    private let assigned = Locked(false)

    init(_ transport: Transport, runID: UInt64, untilAssigned: Bool = false) {
        let stopFlag = self.stopFlag, done = self.done, assigned = self.assigned
        let thread = Thread {
            defer { done.signal() }
            while !stopFlag.current {
                try? transport.send(.heartbeat(Heartbeat(runID: runID, step: 0, weightsVersion: 0)), to: .coordinator)
                if untilAssigned {
                    let deadline = Date().addingTimeInterval(0.02)
                    while Date() < deadline {
                        guard let e = try? transport.receive(timeout: .milliseconds(5)) else { continue }
                        if case .assignment? = try? Message.decode(e.frames, expectedRunID: nil) {
                            assigned.withValue { $0 = true }
                            return
                        }
                    }
                } else {
                    Thread.sleep(forTimeInterval: 0.02)
                }
            }
        }
        thread.start()
    }

    /// Whether the worker got its assignment (and went silent), with `untilAssigned`.
    var gotAssignment: Bool { assigned.current }

    /// Stops the heartbeats (waits for the thread to end); once only.
    func stop() {
        guard !stopFlag.current else { return }
        stopFlag.withValue { $0 = true }
        done.wait()
    }

    /// Waits up to `seconds` for the assignment that silences the worker.
    func waitForAssignment(seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !assigned.current && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        return assigned.current
    }

    deinit { stop() }
}

func sameBits(_ a: ShardResult, _ b: ShardResult) -> Bool {
    a.shardCount == b.shardCount && a.gradients.map(\.bitPattern) == b.gradients.map(\.bitPattern)
        && a.batchStatistics.map(\.bitPattern) == b.batchStatistics.map(\.bitPattern)
        && a.headSums.map(\.bitPattern) == b.headSums.map(\.bitPattern)
}
