// `loom train --workers N`: the coordinator in this process, N `loom worker` children on
// an ipc:// endpoint, all stopped together.

import Foundation
import Logging
import LoomCluster
import LoomTraining
import LoomWire

public enum LocalClusterRun {
    /// Runs `run` with `workers` local worker processes started from `loomExecutable`.
    /// The children exit when the run ends (shutdown), when they are terminated here, or
    /// when this process dies (they watch their parent), so none is left behind.
    /// `prepare` sees the executor before the first step (e.g. to serve its metrics).
    public static func train(run: TrainingRun, workers: Int, loomExecutable: String, control: RunControl,
                             logger: Logger, transports: TransportFactory = TransportFactory(),
                             workerArguments: [String] = [],
                             prepare: (ClusterExecutor) -> Void = { _ in }) throws -> RunOutcome {
        let (endpoint, socketFile) = TransportFactory.localEndpoint(tag: "train")
        let transport = try transports.bind(endpoint)
        defer {
            transport.close()
            try? FileManager.default.removeItem(atPath: socketFile)
        }
        let executor = ClusterExecutor(transport: transport, runID: UInt64(run.runID, radix: 16) ?? 1, problem: run.problem,
                                       source: DatasetSampleSource(dataset: run.dataset), logger: logger,
                                       options: ClusterOptions(config: run.config.cluster))
        prepare(executor)
        let children = WorkerProcesses(executable: loomExecutable, endpoint: endpoint,
                                       extraArguments: ["--exit-on-shutdown", "--exit-with-parent",
                                                        "--parent-pid", "\(getpid())"] + workerArguments,
                                       pinning: run.config.cluster.pinLocalWorkers)
        defer { children.terminateAll() }
        let cpus = try children.start(count: workers)
        let placement = cpus.isEmpty ? "" : " on CPU(s) \(cpus.map(String.init).joined(separator: ", "))"
        logger.info("coordinator on \(endpoint) with \(workers) local worker process(es)\(placement)")
        // Every local worker in before the first step, so the run starts at full speed (after
        // 30 s, or on a stop signal, go on with those there are).
        if executor.assemble(workers, timeout: .seconds(30), control: control) < workers && !control.stopRequested {
            logger.warning("\(executor.liveWorkers.count) of \(workers) local worker(s) connected within 30 s; training starts with them, the others join when they connect")
        }
        return try executor.drive(run, control: control)
    }
}
