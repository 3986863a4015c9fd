import ArgumentParser
import Foundation
import LoomCheckpoint
import LoomReport

struct ExportTensorBoardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-tensorboard",
        abstract: "Write a run's metrics.csv as a TensorBoard event file (then: tensorboard --logdir DIR).",
        discussion: """
        One scalar per metrics.csv column (train_loss, lr, val_accuracy/<head>, ...) at each \
        logged step. Exporting again replaces the earlier export in DIR. To write events while \
        training instead, set training.tensorboard: DIR in the config. See docs/REPORT.md.
        """)

    @Argument(help: "Run directory (checkpoint.dir of the run).")
    var runDirectory: String

    @Option(help: "Directory for the event file (default: RUN/tensorboard).")
    var out: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        _ = global.bootstrap(process: "export-tensorboard")
        try runReportingErrors {
            let directory = out ?? RunDirectory(path: runDirectory).path + "/tensorboard"
            let (path, events) = try TensorBoardExport.export(runDirectory: runDirectory, to: directory)
            print("wrote \(path): \(events) events; view with: tensorboard --logdir \(directory)")
        }
    }
}
