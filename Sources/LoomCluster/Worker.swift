// The worker: connect, hello, then compute what the coordinator assigns until told to stop.
// It keeps no training state across connections: a lost coordinator means a fresh socket
// and a new hello, and the coordinator sends the current weights again.

import Foundation
import Logging
import LoomConfig
import LoomData
import LoomWire

/// How a worker joins a cluster.
public struct WorkerOptions: Sendable {
    /// The coordinator's endpoint (for logs; the transport factory does the connecting).
    public var endpoint: String
    /// `--data PATH`: this dataset file, announced in the hello.
    public var dataPath: String?
    /// False with `--no-local-data`: always receive samples from the coordinator. When true
    /// and `dataPath` is nil, the worker tries the config's `data.path` after the welcome.
    public var useLocalData = true
    /// Exit when the coordinator sends shutdown (default: reconnect and wait for the next run).
    public var exitOnShutdown = false
    /// Stop when the parent process with this pid is gone (`--exit-with-parent`): workers
    /// started by `loom train --workers N` do not outlive their coordinator.
    public var parentPID: Int32?
    /// False with `--no-shared-memory`: never map the coordinator's shared weights region
    /// (weights and gradients then always cross the socket, as from another machine).
    public var useSharedMemory = true
    /// `--slots N`: compute each block on N threads and pre-reduce it, announced as the
    /// hello's `cores` so that the coordinator gives this worker blocks N times as large.
    public var slots = 1
    /// `--stand-in-ms MS`: hold each micro-shard for MS milliseconds instead of computing it
    /// and answer with the stand-in result (`StandIn`); nil: compute.
    public var standInMilliseconds: Double?
    /// Checks the worker's own dataset file against its fingerprint before it is used
    /// (`--data` at start, a found `data.path` when the run begins); nil trusts the
    /// attribute. The CLI gives it the user's cache of verified files.
    public var dataVerifier: DatasetVerifier? = DatasetVerifier(cache: nil)
    /// A found `data.path` (not `--data`) is verified only up to this size while the run
    /// waits, unless it verified before (`loom verify`): a larger file would hold up the
    /// worker's first step; its samples then come from the coordinator.
    public var foundDataVerifyLimit: Int64 = 1 << 30
    /// Without a welcome within this time, reconnect and say hello again.
    public var helloTimeout: Duration = .seconds(10)
    public var hostname = ProcessInfo.processInfo.hostName
    public var pid = Int(ProcessInfo.processInfo.processIdentifier)
    /// Misbehave on purpose (tests only; `loom worker --test-fault`).
    public var testFault: WorkerFault?
    /// `--timeline PATH`: when each step event happened here (benchmarks; `StepTimeline`).
    public var timeline: StepTimeline?

    public init(endpoint: String) { self.endpoint = endpoint }
}

/// The ZeroMQ context of this process's links to shard servers: one I/O thread for all of
/// them (`ZeroMQContext`).
public let serverLinkContext = try? ZeroMQContext()

public final class Worker {
    public let options: WorkerOptions
    private let makeTransport: () throws(TransportError) -> Transport
    /// Connects to a shard server named in a server map (docs/CLUSTER.md, "Shard servers").
    let connectServer: (ServerAddress) throws(TransportError) -> Transport
    private let logger: Logger
    private let stop: StopFlag
    private var data: WorkerData?
    /// Steps and evaluation chunks computed (all sessions).
    public private(set) var piecesComputed = 0
    /// Training blocks assigned (all sessions): when `options.testFault` starts.
    var blocksAssigned = 0

    /// - Parameter makeTransport: a fresh connected (DEALER) transport per session.
    /// - Parameter connectServer: a connected (DEALER) transport to a shard server; by
    ///   default without keys of its own (`serverConnector`: a server with CURVE is then
    ///   refused), all of them in one ZeroMQ context (one I/O thread).
    public init(options: WorkerOptions, logger: Logger, stop: StopFlag,
                makeTransport: @escaping () throws(TransportError) -> Transport,
                connectServer: @escaping (ServerAddress) throws(TransportError) -> Transport = Worker.serverConnector(keys: nil)) {
        self.options = options
        self.makeTransport = makeTransport
        self.connectServer = connectServer
        self.logger = logger
        self.stop = stop
    }

    /// Runs until `stop` is set, or a shutdown arrives with `exitOnShutdown`. Throws when
    /// retrying cannot help: refused by the coordinator, unreadable data, bad endpoint.
    public func run() throws(ClusterError) {
        if let path = options.dataPath, options.useLocalData {
            let own = try WorkerData(path: path)
            if let verifier = options.dataVerifier { try own.verify(with: verifier, logger: logger) }
            data = own
            logger.info("reading samples from \(path) (fingerprint \(own.fingerprint))")
        }
        while !stopRequested {
            let transport: Transport
            do { transport = try makeTransport() } catch { throw .transport(error) }
            let session = WorkerSession(worker: self, transport: transport)
            let outcome: WorkerSession.Outcome
            do {
                outcome = try session.run()
            } catch {
                transport.close()
                session.closeServers()
                throw error
            }
            transport.close()
            session.closeServers()
            if outcome == .exit { return }
            if !stopRequested { Thread.sleep(forTimeInterval: 0.2) }
        }
        logger.info("worker stopping (signal)")
    }

    // Used by WorkerSession.
    var stopRequested: Bool {
        if let parent = options.parentPID, getppid() != parent {
            logger.notice("parent process \(parent) is gone: stopping")
            stop.requestStop()
        }
        return stop.isSet
    }
    var log: Logger { logger }
    var localData: WorkerData? {
        get { data }
        set { data = newValue }
    }
    func countPiece() { piecesComputed += 1 }

    var hello: Hello {
        Hello(hostname: options.hostname, pid: max(options.pid, 1), cores: max(options.slots, 1),
              datasetFingerprint: data?.fingerprint ?? "", hasLocalData: data != nil)
    }
}
