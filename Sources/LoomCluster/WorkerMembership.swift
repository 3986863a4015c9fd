// The coordinator's view of its workers: who said hello, when each was last heard from,
// which weights version each holds.

import LoomWire

/// One worker as the coordinator knows it.
public struct WorkerSummary: Equatable, Sendable, CustomStringConvertible {
    public var peer: PeerID
    public var hostname: String
    public var pid: Int
    public var hasLocalData: Bool
    /// Weights and gradients go through shared memory (a worker on the coordinator's machine).
    public var sharedMemory: Bool

    /// `"0a1b2c3d (host:1234)"`: how every log line names a worker.
    public var description: String { "\(peer) (\(hostname):\(pid))" }
}

/// Mutable state of a connected worker.
final class WorkerRecord {
    let peer: PeerID
    var hello: Hello
    var lastHeard: ContinuousClock.Instant
    /// The weights version last sent to this worker (nil: none yet).
    var weightsVersion: UInt64?
    /// Join order, for assignments that do not depend on dictionary order.
    let serial: Int
    /// The worker's results region, once its hello offered one that checked out: then its
    /// weights come through the coordinator's region and its gradients through this one.
    var sharedResults: SharedRegion?
    /// Shared results that could not be read; at `unreadableResultLimit` the coordinator
    /// stops asking for them (the worker then sends gradients in its messages).
    var unreadableResults = 0
    /// The version of the shard servers' map this worker was last sent (0: none).
    var serverMap: UInt64 = 0
    static let unreadableResultLimit = 3
    /// Jobs in a row in which this worker missed the deadline; at `missedDeadlineLimit` it
    /// is excluded from the run (one in time starts the count again).
    var missedDeadlines = 0
    static let missedDeadlineLimit = 3

    init(peer: PeerID, hello: Hello, now: ContinuousClock.Instant, serial: Int) {
        self.peer = peer
        self.hello = hello
        self.lastHeard = now
        self.serial = serial
    }

    var summary: WorkerSummary {
        WorkerSummary(peer: peer, hostname: hello.hostname, pid: hello.pid, hasLocalData: hello.hasLocalData,
                      sharedMemory: sharedResults != nil)
    }

    var name: String { summary.description }

    /// Compute slots: the hello's `cores` (`loom worker --slots N`); a piece of N times the
    /// micro-shards suits it as well as one piece suits a worker of one slot.
    var slots: Int { max(1, hello.cores) }
}

/// Counters the coordinator reports in its final summary line.
public struct ClusterStatistics: Equatable, Sendable {
    public var stepsExecuted = 0
    public var evaluations = 0
    public var workersJoined = 0
    public var workersLost = 0
    public var workersRefused = 0
    /// Blocks given to another worker after their owner died or missed the deadline.
    public var blocksReassigned = 0
    /// Blocks of the next step assigned while the step before ran (early assignments), and
    /// workers whose early assignments were withdrawn.
    public var earlyAssignments = 0
    public var earlyWithdrawn = 0
    /// Times a worker held a piece past the step deadline (and sat out the rest of the job).
    public var deadlinesMissed = 0
    /// Blocks computed twice and compared (`cluster.audit`, and blocks out of bounds), those
    /// that differed, those the bound check sent to the audit, and those drawn for an audit
    /// that had no second worker to compute them.
    public var blocksAudited = 0
    public var auditMismatches = 0
    public var outOfBounds = 0
    public var auditsSkipped = 0
    /// Training steps drawn for the audit (`cluster.audit`: every block computed twice).
    public var stepsAudited = 0
    /// Workers put out of the run: named by an audit, or deadlines missed in a row.
    public var workersExcluded = 0
    /// Bytes handed to the transport (all messages), and of weights messages alone.
    public var bytesSent = 0
    public var weightBytesSent = 0
    /// Bytes received from the transport (all messages, accepted or dropped).
    public var bytesReceived = 0
    /// Bytes that went through shared memory instead: weights published (once per version,
    /// whatever the number of workers reading them) and gradient sums read.
    public var sharedWeightBytes = 0
    public var sharedGradientBytes = 0
    public var sharedBytes: Int { sharedWeightBytes + sharedGradientBytes }
    /// Steps whose gradient sums in shared memory were added where they lie (the others
    /// copied each one out first: one piece, or a slot or a sum that did not check out).
    public var sharedGradientsSummedInPlace = 0
    /// Seconds spent inside steps and evaluations (assigning, waiting for workers,
    /// reducing): the rest of a run's time is the driver's own (optimizer, checkpoints).
    public var jobSeconds = 0.0
    /// Of `jobSeconds`, in training steps: from the start of each step to its first result
    /// (the fastest worker's round trip: weights, samples, compute, result), and from the
    /// first result to the last (waiting for the slower workers).
    public var firstResultSeconds = 0.0
    public var resultSpreadSeconds = 0.0
    public init() {}
}
