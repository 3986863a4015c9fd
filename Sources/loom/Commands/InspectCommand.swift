import ArgumentParser
import LoomCheckpoint

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a checkpoint holds: run, step, schedule, dataset, config, metrics history, calibration.")

    @Argument(help: "Checkpoint file (e.g. runs/fashion-mnist/latest.h5).")
    var checkpoint: String

    @Flag(help: "List every tensor with shape, dtype, min, max, mean and L2 norm.")
    var tensors = false

    @Flag(help: "Print everything as JSON.")
    var json = false

    @Flag(help: "Print the metrics history as CSV.")
    var metricsCsv = false

    func run() throws {
        try runReportingErrors {
            let inspection = try CheckpointInspection.inspect(checkpoint)
            if json {
                print(inspection.renderJSON())
            } else if metricsCsv {
                print(inspection.renderMetricsCSV(), terminator: "")
            } else {
                print(inspection.renderText(tensors: tensors), terminator: "")
            }
        }
    }
}
