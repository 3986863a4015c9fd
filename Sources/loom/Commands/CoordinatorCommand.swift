import ArgumentParser
import Foundation
import Logging
import LoomCluster
import LoomConfig
import LoomKernels
import LoomTraining
import LoomWire

/// `loom coordinator --config C.yaml --bind EP`: plans and drives a run computed by workers.
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Drive a training run whose steps are computed by `loom worker` processes.",
        discussion: """
        Workers may join, die or be replaced at any time; the weights are bitwise the same as \
        a one-process run. With no worker connected the coordinator waits (and says so). \
        Binding anything but loopback needs --keys DIR (CURVE, allow-list DIR/authorized/*.pub) \
        or an explicit --insecure. SIGTERM/SIGINT write a checkpoint and stop; SIGUSR1 writes a \
        checkpoint and goes on. See docs/CLUSTER.md.
        """)

    @OptionGroup var configOptions: ConfigOptions

    @OptionGroup var wireOption: WireOption

    @Option(help: "Endpoint to bind: tcp://HOST:PORT (tcp://0.0.0.0:5555) or ipc://PATH.")
    var bind: String

    @Option(help: "Key directory: DIR/loom.{pub,key} and DIR/authorized/*.pub (CURVE server).")
    var keys: String?

    @Flag(help: "Allow a non-loopback bind without CURVE (anyone who reaches the port can join).")
    var insecure = false

    @Flag(help: "Admit workers whose kernels (OpenBLAS core type) differ from the run's, with a warning: the weights are then reproducible only to rounding.")
    var allowMixedKernels = false

    @Option(help: "Resume: 'auto' (newest valid checkpoint in the run directory, else start fresh) or a checkpoint file.")
    var resume: String?

    @Option(help: "Wait until this many workers are connected before the first step (later ones still join at any step).")
    var minWorkers: Int = 0

    @OptionGroup var runDirectory: RunDirectoryOptions

    @OptionGroup var metricsOptions: MetricsOptions

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard minWorkers >= 0 else { throw ValidationError("--min-workers must be >= 0, got \(minWorkers)") }
    }

    func run() throws {
        let logger = global.bootstrap(process: "coordinator")
        let control = RunSession.installSignals()
        try runReportingErrors {
            global.prepareKernels(logger)
            if keys == nil && !insecure && !isLoopbackEndpoint(bind) {
                throw CLIError("refusing to bind \(bind) without authentication: it is reachable from other machines. Use --keys DIR (see `loom keygen`), or --insecure on a trusted network")
            }
            let security: Security = try keys.map { try Security.coordinator(keysDirectory: $0) } ?? .none
            let config = try ConfigLoader.load(path: configOptions.config, overrides: configOptions.overrides + wireOption.overrides)
            let run = try RunSetup.trainingRun(config: config, logger: logger, resume: resume, directory: runDirectory.policy)
            let authLogger = logger
            let transport = try TransportFactory(security: security).bind(bind) { event in
                if event.accepted {
                    authLogger.info("CURVE: \(event)")
                } else {
                    authLogger.warning("CURVE: \(event)")
                }
            }
            defer { transport.close() }
            var options = ClusterOptions(config: config.cluster)
            options.allowMixedKernels = allowMixedKernels
            // Shard servers with keys admit the workers this coordinator admits.
            options.workerKeys = security.authorizedClientKeys
            let executor = ClusterExecutor(transport: transport, runID: UInt64(run.runID, radix: 16) ?? 1,
                                           problem: run.problem, source: DatasetSampleSource(dataset: run.dataset),
                                           logger: logger, options: options)
            logger.info("coordinator listening on \(transport.endpoint)\(keys == nil ? "" : " (CURVE, \(security.authorizedCount) authorized key(s))")")
            let session = try RunSession(run: run, control: control, metricsOptions: metricsOptions, logger: logger)
            session.metrics?.observe(run: run, executor: executor)
            // A stop signal ends the wait (the run then stops at once).
            if minWorkers > 1 { executor.assemble(minWorkers, timeout: nil, control: session.control) }
            session.report(try executor.drive(run, control: session.control))
        }
    }
}

extension Security {
    /// Workers admitted by a CURVE server (0 otherwise).
    var authorizedCount: Int {
        if case .curveServer(_, let keys) = self { return keys.count }
        return 0
    }
}
