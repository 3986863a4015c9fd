import ArgumentParser
import Foundation
import Logging
import LoomCluster
import LoomLocal
import LoomKernels
import LoomMetrics
import LoomWire

/// `loom worker --connect EP`: computes what a coordinator assigns, until SIGTERM/SIGINT.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Join a coordinator and compute gradients for it.",
        discussion: """
        The worker keeps no training state: kill it, restart it or add more at any time. When \
        the coordinator goes silent (or stops) it reconnects and waits for the next run. \
        Samples come from --data, else from the config's data.path when this machine has the \
        same file (same fingerprint), else from the coordinator with each assignment.
        """)

    @Option(help: "Coordinator endpoint, e.g. tcp://10.0.0.5:5555 or ipc:///tmp/loom.sock.")
    var connect: String

    @Option(help: "Key directory: DIR/loom.{pub,key} and DIR/coordinator.pub (CURVE).")
    var keys: String?

    @Flag(help: "Never read the dataset here: receive the samples from the coordinator.")
    var noLocalData = false

    @Flag(help: "Never use the coordinator's shared memory, even on its machine: weights and gradients cross the socket.")
    var noSharedMemory = false

    @Option(help: "Dataset file to read samples from (must have the run's fingerprint).")
    var data: String?

    @Flag(help: "Exit when the coordinator says the run is over (default: wait for the next run).")
    var exitOnShutdown = false

    @Flag(help: "Exit when the process that started this worker exits (used by loom train --workers N).")
    var exitWithParent = false

    @Option(help: "With --exit-with-parent: the pid to watch (default: the parent at start-up, which cannot see a parent that died before this worker started).")
    var parentPid: Int32?

    @Option(help: "Run on this CPU only (0-based; the compute thread and ZeroMQ's I/O thread). loom train --workers N gives each local worker its own.")
    var cpu: Int?

    @Option(help: "Compute each block on this many threads and pre-reduce it, so one gradient per host leaves it; the coordinator gives this worker blocks this many times as large.")
    var slots: Int = 1

    @Option(name: .customLong("stand-in-ms"), help: "Benchmarks only: hold each micro-shard this many milliseconds instead of computing it, and answer with a deterministic gradient of the model's size (docs/SCALING.md).")
    var standInMs: Double?

    /// Tests only: the worker misbehaves on purpose (`WorkerFault`), so that the
    /// coordinator's step deadline and audit are tested against real processes.
    @Option(help: ArgumentHelp("Tests only: misbehave on purpose (stall, flip-bit, die-after-result; :N from the N-th block on).",
                               visibility: .hidden))
    var testFault: String?

    @Option(help: ArgumentHelp("Benchmarks only: write when each step event happened here to this file (docs/SCALING.md, \"A step's timeline\").",
                               visibility: .hidden))
    var timeline: String?

    @OptionGroup var metricsOptions: MetricsOptions

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if noLocalData && data != nil { throw ValidationError("--data and --no-local-data exclude each other") }
        if let cpu, cpu < 0 { throw ValidationError("--cpu must be a CPU number (0 or more), got \(cpu)") }
        if !(1...256).contains(slots) { throw ValidationError("--slots must be 1 to 256, got \(slots)") }
        if let standInMs, !(standInMs >= 0 && standInMs <= 600_000) {
            throw ValidationError("--stand-in-ms must be 0 to 600000 milliseconds, got \(standInMs)")
        }
        if let testFault, WorkerFault(parsing: testFault) == nil {
            throw ValidationError("--test-fault wants stall, flip-bit or die-after-result, optionally with :N, got '\(testFault)'")
        }
    }

    func run() throws {
        try runReportingErrors {
            // First, so that every thread started later inherits it.
            if let cpu { try CPUAffinity.pinProcess(to: cpu) }
            let logger = global.bootstrap(process: "worker")
            global.prepareKernels(logger)
            if let cpu { logger.info("pinned to CPU \(cpu)") }
            let security: Security = try keys.map { try Security.worker(keysDirectory: $0) } ?? .none
            var options = WorkerOptions(endpoint: connect)
            options.dataPath = data
            options.useLocalData = !noLocalData
            options.useSharedMemory = !noSharedMemory
            options.exitOnShutdown = exitOnShutdown
            options.slots = slots
            options.standInMilliseconds = standInMs
            if let standInMs { logger.notice("compute stand-in: each micro-shard held \(standInMs) ms, no gradient computed (benchmarks only)") }
            options.dataVerifier = DataVerification.verifier
            options.testFault = testFault.flatMap(WorkerFault.init(parsing:))
            options.timeline = try timeline.map { try StepTimeline(path: $0, role: StepTimeline.role(of: $0)) }
            defer { options.timeline?.flush() }
            if let fault = options.testFault {
                logger.warning("test fault: this worker will \(fault.kind.rawValue) from its block \(fault.after) on (--test-fault is for tests only)")
            }
            if exitWithParent { options.parentPID = parentPid ?? getppid() }
            let stop = StopFlag()
            // SIGTERM/SIGINT: finish the current piece and exit.
            SignalHandling.install(stop: { why in
                logger.info("\(why): stopping")
                stop.requestStop()
            })
            let endpoint = connect, transports = TransportFactory(security: security)
            let metrics = try metricsOptions.startWorker(logger: logger)
            // libzmq retries a refused handshake every reconnect interval: one line per
            // reason and minute is enough.
            let refusals = HandshakeFailureLog(logger: logger)
            // Shard servers: CURVE with this worker's pair and the key the coordinator's map
            // gives for each server (docs/CLUSTER.md, "Shard servers").
            let worker = Worker(options: options, logger: logger, stop: stop, makeTransport: { () throws(TransportError) -> Transport in
                let transport = try transports.connect(endpoint, onHandshakeFailure: { refusals.note($0) })
                return metrics.map { MeteredTransport(transport, metrics: $0.1) } ?? transport
            }, connectServer: Worker.serverConnector(keys: security.clientKeys, onHandshakeFailure: { refusals.note($0) }))
            logger.info("worker pid \(ProcessInfo.processInfo.processIdentifier) connecting to \(connect)\(keys == nil ? "" : " with CURVE")")
            try worker.run()
            logger.info("worker done: \(worker.piecesComputed) pieces computed")
        }
    }
}

/// Logs each handshake failure reason at most once a minute (libzmq retries a refused
/// connection every few seconds).
final class HandshakeFailureLog: @unchecked Sendable {
    private let logger: Logger
    private let lock = NSLock()
    private var lastLogged: [String: ContinuousClock.Instant] = [:]
    private var repeats: [String: Int] = [:]

    init(logger: Logger) { self.logger = logger }

    func note(_ failure: String) {
        let now = ContinuousClock.now
        lock.lock()
        defer { lock.unlock() }
        if let last = lastLogged[failure], now - last < .seconds(60) {
            repeats[failure, default: 0] += 1
            return
        }
        let again = repeats.removeValue(forKey: failure).map { " (\($0) more times since the last line)" } ?? ""
        lastLogged[failure] = now
        logger.error("\(failure)\(again); retrying")
    }
}
