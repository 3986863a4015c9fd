import Foundation
import Logging
import LoomTraining

/// `loom train --workers N`: a coordinator in this process and N `loom worker` processes.
enum LocalCluster {
    static func train(run: TrainingRun, workers: Int, control: RunControl, metricsPort: Int?,
                      global: GlobalOptions, logger: Logger) throws -> RunOutcome {
        throw CLIError("--workers needs the cluster coordinator (not built yet)")
    }
}
