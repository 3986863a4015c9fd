// `loom bench --hosts`: the coordinator's half, run on host 0 of the test bed
// (deploy/tests/hosts.sh) while `loom worker --stand-in-ms` processes on the other hosts
// stand in for the compute. Real TCP links shaped by tc, CURVE, the reduction in the
// tree's order, the optimizer and a checkpoint; timed step by step, and the bytes each
// host's link carried read from tc's counters (docs/SCALING.md).

import Foundation
import Logging
import LoomCheckpoint
import LoomCluster
import LoomConfig
import LoomTraining
import LoomWire

public enum HostsBenchmark {
    /// What one host count measured, per step (milliseconds, bytes) unless said otherwise.
    public struct Figures: Codable, Sendable {
        public var hosts: Int
        public var steps: Int
        public var samplesPerSecond: Double
        public var stepMs: Double
        /// Inside the step's job: until the first result, from the first to the last, and
        /// the rest (assigning, and the reduction once every result is in).
        public var firstResultMs: Double
        public var spreadMs: Double
        public var reduceMs: Double
        /// `TrainingState.apply`: the optimizer and the batch-norm statistics.
        public var optimizerMs: Double
        /// One checkpoint of the state after the last step (written once, not per step).
        public var checkpointMs: Double
        /// Per host: bytes its link carried per step, up (sent by the host) and down.
        public var linkUp: [Double]
        public var linkDown: [Double]
        /// Payload bytes the coordinator handed to its transport and received, per step.
        public var coordinatorSent: Double
        public var coordinatorReceived: Double
        public var parameters: Int
        /// The bed's processes' CPU over `cpuSteps` steps (all of them, not per step), when
        /// the coordinator could find them (`BedCPU`).
        public var cpu: BedCPU?
        /// The steps `cpu` and the link counters cover: the timed steps and the one run
        /// between reading them and starting the clock (`run`).
        public var cpuSteps: Int
    }

    /// Runs `steps` measured steps (after `warmup`) of `config` on the transport bound at
    /// `endpoint`, once `hosts` workers have joined. `bed` is the bed's namespace prefix
    /// (`LOOM_BED`): the tc byte counters of hosts 0..<hosts are read before and after.
    public static func coordinate(endpoint: String, security: Security, hosts: Int, config: RunConfig,
                                  steps: Int, warmup: Int, checkpointPath: String, bed: String?,
                                  servers: Int = 0, cpuMarker: String? = nil, timeline: StepTimeline? = nil,
                                  slicesByBuckets: Bool = true, earlyAssignments: Bool = true, logger: Logger) throws -> Figures {
        let problem = try TrainingProblem.synthetic(config: config)
        let count = config.training.batchSize * 4
        let state = try TrainingState(problem: problem, truth: GroundTruth.synthetic(heads: problem.heads, count: count),
                                      trainIndices: Array(0..<count), validationIndices: [])
        let transport = try TransportFactory(security: security).bind(endpoint)
        defer { transport.close() }
        var options = ClusterOptions(config: config.cluster)
        options.sharedMemory = false
        // With shard servers (`loom server` on the first `servers` hosts) the gradients and
        // weights go between workers and servers; the first step waits for all of them.
        options.servers = servers
        options.timeline = timeline
        options.slicesByBuckets = slicesByBuckets
        options.earlyAssignments = earlyAssignments
        defer { timeline?.flush() }
        // With CURVE the servers admit the workers this coordinator admits.
        options.workerKeys = security.authorizedClientKeys
        let source = SyntheticSampleSource(imageShape: problem.imageShape)
        let executor = ClusterExecutor(transport: transport, runID: UInt64.random(in: 1...UInt64.max), problem: problem,
                                       source: source, logger: logger, options: options)
        guard executor.waitForWorkers(hosts, timeout: .seconds(120)) == hosts else {
            throw ClusterError.process("bench: only \(executor.liveWorkers.count) of \(hosts) workers joined \(endpoint) within 120 s")
        }
        func step() throws -> (job: Double, apply: Double) {
            let t0 = Date()
            let plan = state.plan(step: state.step)
            let result = try executor.execute(plan: plan, state: state)
            let t1 = Date()
            _ = try state.apply(plan: plan, result: result, optimizerApplied: executor.appliesOptimizer)
            return (t1.timeIntervalSince(t0), Date().timeIntervalSince(t1))
        }
        for _ in 0..<warmup { _ = try step() }
        // Reading the counters runs `tc` twice a host, tens of milliseconds in all. With
        // early assignments the workers go on meanwhile, so a clock started after the
        // readings would open the window with the next step partly done (a 10-step window
        // measured a 141.6 ms step for a 150 ms hold). One more step runs between the
        // readings and the clock: the window opens on a step end as the coordinator saw it.
        // That step is in the counters and the CPU (`cpuSteps`), not in the time.
        let countersBefore = bed.map { LinkCounters.read(bed: $0, hosts: hosts) }
        let cpuBefore = cpuMarker.map { BedCPU.read(marker: $0) }
        _ = try step()
        let before = executor.statistics
        var applySeconds = 0.0
        let start = Date()
        for _ in 0..<steps { applySeconds += try step().apply }
        let elapsed = Date().timeIntervalSince(start)
        let cpuAfter = cpuMarker.map { BedCPU.read(marker: $0) }
        let countersAfter = bed.map { LinkCounters.read(bed: $0, hosts: hosts) }
        let after = executor.statistics
        let written = Date()
        try executor.synchronize(state)
        try CheckpointWriter.write(state.snapshot(runID: String(executor.runID, radix: 16), datasetFingerprint: source.fingerprint), to: checkpointPath)
        let checkpointSeconds = Date().timeIntervalSince(written)
        executor.shutdown(reason: "benchmark finished")
        let n = Double(steps), ms = 1000 / n, counted = Double(steps + 1)
        let first = after.firstResultSeconds - before.firstResultSeconds
        let spread = after.resultSpreadSeconds - before.resultSpreadSeconds
        let job = after.jobSeconds - before.jobSeconds
        var up = [Double](repeating: 0, count: hosts), down = up
        if let a = countersBefore, let b = countersAfter {
            for h in 0..<hosts {
                up[h] = Double(b.up[h] - a.up[h]) / counted
                down[h] = Double(b.down[h] - a.down[h]) / counted
            }
        }
        return Figures(hosts: hosts, steps: steps, samplesPerSecond: n * Double(config.training.batchSize) / elapsed,
                       stepMs: elapsed * ms, firstResultMs: first * ms, spreadMs: spread * ms,
                       reduceMs: (job - first - spread) * ms, optimizerMs: applySeconds * ms,
                       checkpointMs: checkpointSeconds * 1000, linkUp: up, linkDown: down,
                       coordinatorSent: Double(after.bytesSent - before.bytesSent) / n,
                       coordinatorReceived: Double(after.bytesReceived - before.bytesReceived) / n,
                       parameters: problem.model.parameters.count,
                       cpu: cpuBefore.flatMap { b in cpuAfter.map { $0 - b } }, cpuSteps: steps + 1)
    }
}

/// Bytes the bed's links carried so far, from tc's qdisc counters: a host's `eth0` (what it
/// sent) and its switch port (what it received). Root only; zeros where tc cannot say.
enum LinkCounters {
    static func read(bed: String, hosts: Int) -> (up: [Int], down: [Int]) {
        ((0..<hosts).map { sentBytes(namespace: "\(bed)h\($0)", device: "eth0") },
         (0..<hosts).map { sentBytes(namespace: "\(bed)sw", device: "p\($0)") })
    }

    /// `Sent N bytes` of the root qdisc of `device` in `namespace`.
    static func sentBytes(namespace: String, device: String) -> Int {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["tc", "-s", "-n", namespace, "qdisc", "show", "dev", device]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return 0 }
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard let range = out.range(of: "Sent ") else { return 0 }
        return Int(out[range.upperBound...].prefix { $0.isNumber }) ?? 0
    }
}
