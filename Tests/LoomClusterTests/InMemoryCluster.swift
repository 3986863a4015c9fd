// A coordinator and workers over LoomWire's InMemoryNetwork: the state machines without
// sockets or processes.

import Foundation
import Logging
import LoomCluster
import LoomConfig
import LoomData
import LoomTestSupport
import LoomTraining
import LoomWire

/// A small MLP problem with synthetic data: batch 16 in 4 micro-shards of 4.
final class InMemoryCluster {
    let network = InMemoryNetwork()
    let problem: TrainingProblem
    let state: TrainingState
    let source: SyntheticSampleSource
    let executor: ClusterExecutor
    let runID: UInt64 = 0xC0FFEE
    private var stops: [StopFlag] = []
    private var finished: [DispatchSemaphore] = []

    init(timeoutMs: Int = 300, sharedMemory: Bool = true) throws {
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/mlp.yaml").path
        let config = try ConfigLoader.parse(yaml: """
            name: unit
            model: {file: \(model)}
            data: {path: /nonexistent/data.h5}
            training: {batch_size: 16, micro_batch: 4, seed: 3, epochs: 10}
            cluster: {heartbeat_ms: 20, worker_timeout_ms: \(timeoutMs), shared_memory: \(sharedMemory)}
            """, source: "unit", defaultName: "unit")
        let shape = ImageShape(height: 28, width: 28, channels: 1)
        let heads = config.heads.map { ResolvedHead(name: $0.name, kind: $0.kind.rawValue, attribute: $0.attribute, classes: 10,
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
    func localResult(step: Int) throws -> LoomTraining.ShardResult {
        let plan = state.plan(step: step)
        let ids = plan.sampleIndices
        let data = ShardData(sampleIDs: ids, images: try source.images(split: "train", indices: ids),
                             labels: state.truth(of: ids[...]).labels)
        return try ShardComputer(problem: problem, microBatch: 4)
            .compute(plan: plan, block: ShardBlock(start: 0, count: plan.shardCount), data: data,
                     parameters: state.parameters, buffers: state.buffers)
    }
}

func sameBits(_ a: LoomTraining.ShardResult, _ b: LoomTraining.ShardResult) -> Bool {
    a.shardCount == b.shardCount && a.gradients.map(\.bitPattern) == b.gradients.map(\.bitPattern)
        && a.batchStatistics.map(\.bitPattern) == b.batchStatistics.map(\.bitPattern)
        && a.headSums.map(\.bitPattern) == b.headSums.map(\.bitPattern)
}
