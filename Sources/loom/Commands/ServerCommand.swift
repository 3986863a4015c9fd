import ArgumentParser
import Foundation
import Logging
import LoomCluster
import LoomWire

/// `loom server --connect EP --bind EP`: a shard server holding a slice of the weights.
struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Hold a slice of a run's weights and optimizer state for a coordinator (sharded aggregation).",
        discussion: """
        A coordinator with cluster.servers S > 0 waits for S servers before its first step and \
        gives each a slice of the parameters. Workers push each server its slice of every \
        gradient and pull its slice of the new weights; the server sums the slices in the \
        reduction tree's order and applies the optimizer. A server lost mid-run rolls the run \
        back to its last checkpoint; start another one to go on. With --keys DIR the server \
        speaks CURVE on both sides: to the coordinator as a worker does, and to workers as a \
        CURVE server with DIR's key pair, admitting the worker keys its coordinator admits \
        (they come with its slice); workers learn its public key from the coordinator. \
        Binding anything but loopback without --keys needs --insecure. See docs/CLUSTER.md, \
        "Shard servers".
        """)

    @Option(help: "Coordinator endpoint, e.g. tcp://10.0.0.5:5555 or ipc:///tmp/loom.sock.")
    var connect: String

    @Option(help: "Endpoint to bind for workers: tcp://HOST:PORT (port * for a free one) or ipc://PATH.")
    var bind: String

    @Option(help: "Endpoint workers reach this server at, when it differs from --bind (tcp://0.0.0.0:* binds, tcp://10.0.0.7:PORT is what workers dial).")
    var advertise: String?

    @Option(help: "Key directory, as a worker's: DIR/loom.{pub,key} (its loom.pub in the coordinator's authorized/) and DIR/coordinator.pub. The same pair makes the workers' socket a CURVE server admitting the coordinator's workers.")
    var keys: String?

    @Flag(help: "Allow a non-loopback bind for workers without CURVE (no --keys, or --plaintext-workers): anyone who reaches the port can then push gradients.")
    var insecure = false

    @Flag(help: "With --keys: serve workers without CURVE (CURVE towards the coordinator only), to measure what CURVE costs; beyond loopback it needs --insecure.")
    var plaintextWorkers = false

    @Flag(help: "Exit when the coordinator says the run is over (default: wait for the next run).")
    var exitOnShutdown = false

    @Option(help: ArgumentHelp("Benchmarks only: write when each step event happened here to this file (docs/SCALING.md, \"A step's timeline\").",
                               visibility: .hidden))
    var timeline: String?

    /// Tests only: `die-on-gather:N`, a server lost exactly while a checkpoint is gathered.
    @Option(help: ArgumentHelp("Tests only: die-on-gather:N ends this process with SIGKILL when the coordinator's N-th checkpoint gather comes, before answering it.",
                               visibility: .hidden))
    var testFault: String?

    @OptionGroup var global: GlobalOptions

    /// The N of `--test-fault die-on-gather:N`, nil for anything else.
    static func dieOnGather(_ text: String) -> Int? {
        guard text.hasPrefix("die-on-gather:"), let n = Int(text.dropFirst("die-on-gather:".count)), n >= 1 else { return nil }
        return n
    }

    func validate() throws {
        if plaintextWorkers && keys == nil { throw ValidationError("--plaintext-workers only makes sense with --keys (without keys no link speaks CURVE)") }
        if let testFault, Self.dieOnGather(testFault) == nil {
            throw ValidationError("--test-fault wants die-on-gather:N (N from 1), got '\(testFault)'")
        }
    }

    func run() throws {
        let logger = global.bootstrap(process: "server")
        try runReportingErrors {
            let workerSecurity: Security = plaintextWorkers ? .none : try keys.map { try Security.shardServer(keysDirectory: $0) } ?? .none
            if workerSecurity == .none && !insecure && !isLoopbackEndpoint(bind) {
                throw CLIError("refusing to bind \(bind) for workers without authentication: anyone who reaches it could push gradients into the model. Use --keys DIR (CURVE; see `loom keygen`), or --insecure on a trusted network")
            }
            let stop = StopFlag()
            SignalHandling.install(stop: { why in
                logger.info("\(why): stopping")
                stop.requestStop()
            })
            let toCoordinator = TransportFactory(security: try keys.map { try Security.worker(keysDirectory: $0) } ?? .none)
            // Refused handshakes are logged as the coordinator logs them.
            let workers = try TransportFactory(security: workerSecurity).bind(bind) { event in
                if event.accepted {
                    logger.info("CURVE: \(event)")
                } else {
                    logger.warning("CURVE: \(event)")
                }
            }
            defer { workers.close() }
            var advertised = advertise ?? workers.endpoint
            if advertise == nil, advertised.contains("0.0.0.0") {
                advertised = advertised.replacingOccurrences(of: "0.0.0.0", with: ProcessInfo.processInfo.hostName)
            }
            var options = ShardServerOptions(coordinatorEndpoint: connect, advertisedEndpoint: advertised)
            options.exitOnShutdown = exitOnShutdown
            options.timeline = try timeline.map { try StepTimeline(path: $0, role: StepTimeline.role(of: $0)) }
            defer { options.timeline?.flush() }
            options.publicKey = workerSecurity.serverPublicKey
            if let n = testFault.flatMap(Self.dieOnGather) {
                logger.warning("test fault: this server will end itself with SIGKILL at the coordinator's gather number \(n) (--test-fault is for tests only)")
                options.onGather = { count in
                    guard count >= n else { return }
                    logger.warning("test fault: gather number \(count) came; SIGKILL")
                    kill(getpid(), SIGKILL)
                }
            }
            let endpoint = connect
            let server = ShardServer(options: options, workers: workers, logger: logger, stop: stop) { () throws(TransportError) -> Transport in
                try toCoordinator.connect(endpoint)
            }
            logger.info("shard server pid \(ProcessInfo.processInfo.processIdentifier) listening on \(workers.endpoint) for workers (advertised \(advertised)), connecting to \(connect)\(keys == nil ? "" : " with CURVE")\(workerSecurity.serverPublicKey.map { "; workers' socket: CURVE, key \($0), admitting the coordinator's workers" } ?? "; workers' socket: no CURVE")")
            try server.run()
            logger.info("shard server done: \(server.stepsApplied) steps applied; workers' socket: \(server.gradientBytesIn) bytes of gradient slices in, \(server.sliceBytesOut) bytes of weights slices out; \(server.pullsReceived) pulls, \(server.pullsByPush) pushes standing for a pull")
        }
    }
}
