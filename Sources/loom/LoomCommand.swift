import ArgumentParser
import Foundation
import Logging
import LoomCheckpoint
import LoomKernels

/// The `loom` command-line tool: where the command line and config files are read, signal
/// handlers installed and the decision to exit taken. Its commands make their transports
/// with LoomWire's `TransportFactory`.
@main
struct LoomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loom",
        abstract: "Train fashion-attribute networks on a cluster of CPUs.",
        version: CheckpointLayout.loomVersion,
        subcommands: [
            TrainCommand.self, CoordinatorCommand.self, WorkerCommand.self, ServerCommand.self,
            ImportCommand.self, InspectCommand.self, VerifyCommand.self, DiffCommand.self,
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
    @Option(help: "Log format (json: one object per line, for log shippers).")
    var logFormat: LogFormat = .text

    @Option(help: "Log level.")
    var logLevel: Logger.Level = .info

    func bootstrap(process: String) -> Logger {
        LogSetup.bootstrap(format: logFormat, level: logLevel, process: process)
        return Logger(label: "loom.\(process)")
    }
}

// Enum options: help and shell completion list their values, and the parser names them in
// its error for a value that is not one of them.
extension LogFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
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
