import ArgumentParser
import Foundation
import Logging
import LoomKernels

/// The `loom` command-line tool: where the command line and config files are read, signal
/// handlers installed and the decision to exit taken. Its commands make their transports
/// with LoomWire's `TransportFactory`.
@main
struct LoomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loom",
        abstract: "Train fashion-attribute networks on a cluster of CPUs.",
        subcommands: [
            TrainCommand.self, CoordinatorCommand.self, WorkerCommand.self,
            ImportCommand.self, InspectCommand.self, DiffCommand.self,
            EvalCommand.self, CalibrateCommand.self, PredictCommand.self, ReportCommand.self, ExportTensorBoardCommand.self,
            EmbedCommand.self, SimilarCommand.self,
            ScheduleCommand.self, KeygenCommand.self, BenchCommand.self, BenchBarrierCommand.self,
            ImportWeightsCommand.self,
        ]
    )

    /// Every command (and every worker process) starts here: choose the kernels (which may
    /// execute the process again, see KernelSetup), tune the heap, then parse.
    static func main() {
        KernelSetup.start()
        HeapTuning.keepLargeBuffersOnHeap()
        main(nil)
    }
}

/// Options every command shares: logging.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Log format: text or json (one object per line, for log shippers).")
    var logFormat: String = "text"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard LogFormat(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format must be 'text' or 'json', got '\(logFormat)'")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; got '\(logLevel)'")
        }
    }

    func bootstrap(process: String) -> Logger {
        LogSetup.bootstrap(format: LogFormat(rawValue: logFormat) ?? .text,
                           level: Logger.Level(rawValue: logLevel) ?? .info, process: process)
        return Logger(label: "loom.\(process)")
    }
}

/// A failure the CLI reports as one line on stderr and a non-zero exit status.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
    init(_ error: any Error) { description = "\(error)" }
}

/// Runs `body`, turning any library error into one clear line and exit status 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        StandardError.write("error: \(error)\n")
        throw ExitCode.failure
    }
}
