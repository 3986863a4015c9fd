// `loom bench --workers 1,2`: a coordinator in this process and N `loom worker` processes
// on synthetic data, timed over real sockets (ipc://), after a warm-up.

import Foundation
import Logging
import LoomCluster
import LoomConfig
import LoomLocal
import LoomData
import LoomTraining
import LoomWire

public enum ClusterBenchmark {
    /// One measurement: throughput, traffic, and where a step's wall time went, per step.
    public struct Figures: Sendable {
        public var samplesPerSecond: Double
        public var bytesPerStep: Double
        /// Bytes that went through shared memory instead, per step (weights published,
        /// gradients read); zero when the workers use the socket.
        public var sharedBytesPerStep: Double
        /// Wall time of a step, and its parts: from the step's start until the first
        /// result is in (the fastest worker's round trip: weights, samples, compute, result
        /// back), from the first result to the last (waiting for the slower workers), and
        /// the coordinator's own work (reduction, optimizer, planning, bookkeeping).
        public var stepMs: Double
        public var firstResultMs: Double
        public var spreadMs: Double
        public var coordinatorMs: Double
        /// Blocks computed a second time for the audit (`cluster.audit`), per step.
        public var auditedBlocksPerStep: Double
        /// Steps drawn for the audit, and how many were timed.
        public var auditedSteps: Int = 0
        public var steps: Int = 0
        /// Median wall time of an audited step and of any other, in this run (nil: none).
        public var auditedStepMs: Double?
        public var plainStepMs: Double?
    }

    /// Trains `config` with `workers` local worker processes started from `loomExecutable`
    /// for `seconds` of wall time (and at least `minimumSteps` steps) after `warmupSteps`;
    /// returns training samples/s, the bytes the coordinator sent per step (weights,
    /// assignments with the samples, heartbeats) and the step-time breakdown. With
    /// `pinning`, worker i runs on its own CPU when there are enough (as `loom train`'s).
    public static func run(workers: Int, config: RunConfig, seconds: Double, loomExecutable: String,
                           pinning: Bool = true, minimumSteps: Int = 10, warmupSteps: Int = 3,
                           logger: Logger = Logger(label: "loom.bench")) throws -> Figures {
        let problem = try TrainingProblem.synthetic(config: config)
        let shape = problem.imageShape
        let heads = problem.heads
        let count = config.training.batchSize * 16
        let state = try TrainingState(problem: problem, truth: GroundTruth.synthetic(heads: heads, count: count),
                                      trainIndices: Array(0..<count), validationIndices: [])
        let (endpoint, socketFile) = TransportFactory.localEndpoint(tag: "bench")
        let transport = try TransportFactory().bind(endpoint)
        defer {
            transport.close()
            try? FileManager.default.removeItem(atPath: socketFile)
        }
        let executor = ClusterExecutor(transport: transport, runID: UInt64.random(in: 1...UInt64.max), problem: problem,
                                       source: SyntheticSampleSource(imageShape: shape), logger: logger,
                                       options: ClusterOptions(config: config.cluster))
        let children = WorkerProcesses(executable: loomExecutable, endpoint: endpoint,
                                       extraArguments: ["--no-local-data", "--exit-on-shutdown", "--log-level", "warning"],
                                       pinning: pinning)
        defer { children.terminateAll() }
        try children.start(count: workers)
        guard executor.waitForWorkers(workers, timeout: .seconds(60)) == workers else {
            throw ClusterError.process("bench: only \(executor.liveWorkers.count) of \(workers) workers connected to \(endpoint) within 60 s")
        }
        // Each step's wall time, by whether it was audited.
        var audited: [Double] = [], plain: [Double] = []
        func step() throws {
            let drawn = executor.statistics.stepsAudited
            let began = Date()
            let plan = state.plan(step: state.step)
            let result = try executor.execute(plan: plan, state: state)
            _ = try state.apply(plan: plan, result: result)
            let ms = 1000 * Date().timeIntervalSince(began)
            if executor.statistics.stepsAudited > drawn { audited.append(ms) } else { plain.append(ms) }
        }
        for _ in 0..<warmupSteps { try step() }
        audited = []; plain = []
        let before = executor.statistics
        let start = Date()
        var steps = 0
        while steps < minimumSteps || Date().timeIntervalSince(start) < seconds {
            try step()
            steps += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        let after = executor.statistics
        let inJobs = after.jobSeconds - before.jobSeconds
        logger.info("bench: \(workers) worker(s): \(steps) steps in \(elapsed) s, \(inJobs) s waiting for workers, \(elapsed - inJobs) s in the coordinator's own step work")
        executor.shutdown(reason: "benchmark finished")
        let counted = Double(max(steps, 1)), perStep = 1000 / counted
        let first = after.firstResultSeconds - before.firstResultSeconds
        let spread = after.resultSpreadSeconds - before.resultSpreadSeconds
        return Figures(samplesPerSecond: Double(steps * config.training.batchSize) / elapsed,
                       bytesPerStep: Double(after.bytesSent - before.bytesSent) / counted,
                       sharedBytesPerStep: Double(after.sharedBytes - before.sharedBytes) / counted,
                       stepMs: elapsed * perStep, firstResultMs: first * perStep, spreadMs: spread * perStep,
                       coordinatorMs: (elapsed - first - spread) * perStep,
                       auditedBlocksPerStep: Double(after.blocksAudited - before.blocksAudited) / counted,
                       auditedSteps: audited.count, steps: steps,
                       auditedStepMs: audited.isEmpty ? nil : median(audited), plainStepMs: plain.isEmpty ? nil : median(plain))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
