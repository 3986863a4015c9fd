import Foundation
import Logging
import LoomCluster
import LoomTraining
import LoomWire

/// `loom train --workers N`: a coordinator in this process and N `loom worker` child
/// processes on an ipc:// endpoint. SIGTERM/SIGINT checkpoint, then stop everything; the
/// children are terminated whatever happens (no orphan outlives the coordinator).
enum LocalCluster {
    static func train(run: TrainingRun, workers: Int, control: RunControl,
                      global: GlobalOptions, logger: Logger, metrics: MetricsServer? = nil) throws -> RunOutcome {
        let socket = "/tmp/loom-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max)).sock"
        let endpoint = "ipc://\(socket)"
        let transport = try ZeroMQTransport.bind(endpoint: endpoint)
        defer {
            transport.close()
            try? FileManager.default.removeItem(atPath: socket)
        }
        let executor = ClusterExecutor(transport: transport, runID: UInt64(run.runID, radix: 16) ?? 1,
                                       problem: run.problem, source: DatasetSampleSource(dataset: run.dataset),
                                       logger: logger, options: ClusterOptions(config: run.config.cluster))
        metrics?.observe(run: run, executor: executor)
        let children = WorkerProcesses(executable: selfExecutable(), endpoint: endpoint,
                                       extraArguments: ["--exit-on-shutdown", "--log-format", global.logFormat,
                                                        "--log-level", global.logLevel == "info" ? "notice" : global.logLevel])
        defer { children.terminateAll() }
        SignalHandling.install(control: control)
        try children.start(count: workers)
        logger.info("started \(workers) local worker process(es) on \(endpoint)")
        do {
            let outcome = try run.run(executor: executor, control: control)
            executor.shutdown(reason: "training finished")
            return outcome
        } catch {
            executor.shutdown(reason: "the coordinator failed: \(error)")
            throw error
        }
    }

    /// This executable's path (to start workers of the same build).
    static func selfExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
