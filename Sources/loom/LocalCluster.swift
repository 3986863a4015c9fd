import Foundation
import Logging
import LoomCluster
import LoomLocal
import LoomTraining

/// `loom train --workers N`: a coordinator in this process and N `loom worker` child
/// processes (LoomCluster's `LocalClusterRun`). SIGTERM/SIGINT (handled by the caller's
/// `RunSession`, which sets `control`) checkpoint, then stop everything; the children exit
/// with this process whatever happens.
enum LocalCluster {
    static func train(run: TrainingRun, workers: Int, control: RunControl,
                      global: GlobalOptions, logger: Logger, metrics: MetricsServer? = nil) throws -> RunOutcome {
        let level = global.logLevel == .info ? "notice" : global.logLevel.rawValue
        return try LocalClusterRun.train(run: run, workers: workers, loomExecutable: selfExecutable(), control: control,
                                         logger: logger,
                                         workerArguments: ["--log-format", global.logFormat.rawValue, "--log-level", level],
                                         prepare: { metrics?.observe(run: run, executor: $0) })
    }

    /// This executable's path (to start workers of the same build).
    static func selfExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
