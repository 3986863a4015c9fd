// The coordinator's view of its workers and its traffic. The executor counts in totals;
// these counters follow them by their increase (a counter never goes down).

import CoreMetrics

/// The executor's totals since the coordinator started, as the metrics take them.
public struct ClusterTotals: Sendable, Equatable {
    public var liveWorkers = 0
    public var workersJoined = 0
    public var workersLost = 0
    public var workersRefused = 0
    public var blocksReassigned = 0
    /// Blocks held past the step deadline, blocks computed twice and compared, those whose
    /// two results differed, and workers put out of the run (docs/CLUSTER.md).
    public var deadlinesMissed = 0
    public var blocksAudited = 0
    public var auditMismatches = 0
    public var workersExcluded = 0
    /// Bytes handed to the transport and received from it (all messages).
    public var bytesSent = 0
    public var bytesReceived = 0
    /// Bytes that went through shared memory instead of the socket.
    public var sharedMemoryBytes = 0
    /// Dropped messages by reason (`stale result`, `bad magic`...).
    public var rejectedMessages: [String: Int] = [:]

    public init() {}
}

public final class ClusterMetrics: @unchecked Sendable {
    private let endpoint: MetricsEndpoint
    private let lock = Lock()
    private let liveWorkers: Meter
    private let joined, lost, refused, reassigned, bytesSent, bytesReceived, sharedBytes: CoreMetrics.Counter
    private let deadlines, audited, mismatches, excluded: CoreMetrics.Counter
    private var rejected: [String: CoreMetrics.Counter] = [:]
    private var last = ClusterTotals()

    public init(endpoint: MetricsEndpoint) {
        self.endpoint = endpoint
        liveWorkers = endpoint.gauge("loom_live_workers", "Workers connected.")
        joined = endpoint.counter("loom_workers_joined_total", "Workers admitted to the run.")
        lost = endpoint.counter("loom_workers_lost_total", "Workers declared dead (silent past cluster.worker_timeout_ms, or gone).")
        refused = endpoint.counter("loom_workers_refused_total", "Workers refused (other kernels, protocol or dataset).")
        reassigned = endpoint.counter("loom_reassignments_total", "Blocks given to another worker after theirs died.")
        bytesSent = endpoint.counter("loom_wire_sent_bytes_total", "Bytes the coordinator handed to its socket.")
        bytesReceived = endpoint.counter("loom_wire_received_bytes_total", "Bytes the coordinator received on its socket.")
        sharedBytes = endpoint.counter("loom_shared_memory_bytes_total",
                                       "Bytes of weights and gradient sums passed through shared memory instead of the socket.")
        deadlines = endpoint.counter("loom_deadlines_missed_total", "Times a worker held a block past the step deadline (and sat out the rest of the step).")
        audited = endpoint.counter("loom_blocks_audited_total", "Blocks computed by two workers and compared bit for bit.")
        mismatches = endpoint.counter("loom_audit_mismatches_total", "Audited blocks whose two results differed.")
        excluded = endpoint.counter("loom_workers_excluded_total",
                                    "Workers put out of the run (a wrong result, or deadlines missed in a row).")
    }

    /// Takes the executor's current totals (call on the thread that drives the executor).
    public func record(_ now: ClusterTotals) {
        lock.withLock {
            liveWorkers.set(now.liveWorkers)
            func follow(_ counter: CoreMetrics.Counter, _ new: Int, _ old: Int) {
                if new > old { counter.increment(by: new - old) }
            }
            follow(joined, now.workersJoined, last.workersJoined)
            follow(lost, now.workersLost, last.workersLost)
            follow(refused, now.workersRefused, last.workersRefused)
            follow(reassigned, now.blocksReassigned, last.blocksReassigned)
            follow(bytesSent, now.bytesSent, last.bytesSent)
            follow(bytesReceived, now.bytesReceived, last.bytesReceived)
            follow(sharedBytes, now.sharedMemoryBytes, last.sharedMemoryBytes)
            follow(deadlines, now.deadlinesMissed, last.deadlinesMissed)
            follow(audited, now.blocksAudited, last.blocksAudited)
            follow(mismatches, now.auditMismatches, last.auditMismatches)
            follow(excluded, now.workersExcluded, last.workersExcluded)
            for (reason, count) in now.rejectedMessages {
                let key = Self.snakeCase(reason)
                let counter = rejected[key] ?? endpoint.counter(
                    "loom_rejected_messages_total", "Messages dropped, by reason.", labels: [("reason", key)])
                rejected[key] = counter
                follow(counter, count, last.rejectedMessages[reason] ?? 0)
            }
            last = now
        }
    }

    /// `"stale result"` -> `stale_result`: label values an operator can type.
    static func snakeCase(_ reason: String) -> String {
        String(reason.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}
