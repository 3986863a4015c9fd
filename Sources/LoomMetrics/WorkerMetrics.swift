// A worker's own metrics (`loom worker --metrics-port`): what it received and sent, how
// long its assignments took, and when it last heard from a coordinator. Everything is
// seen at the transport (`MeteredTransport`), so the worker's code is unchanged.

import CoreMetrics
import LoomWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class WorkerMetrics: @unchecked Sendable {
    /// Compute times of one assignment: a micro-shard of a tiny model (1 ms) to a large block (2 min).
    public static let assignmentDurationBounds: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120]

    private let lock = Lock()
    private let sentBytes, receivedBytes, assignments, results, sessions: CoreMetrics.Counter
    private let assignmentDuration: CoreMetrics.Timer
    private let lastMessage, weightsVersion: Meter
    private var assignmentStarted: timespec?

    public init(endpoint: MetricsEndpoint) {
        sentBytes = endpoint.counter("loom_worker_wire_sent_bytes_total", "Bytes this worker handed to its socket.")
        receivedBytes = endpoint.counter("loom_worker_wire_received_bytes_total", "Bytes this worker received on its socket.")
        assignments = endpoint.counter("loom_worker_assignments_total", "Assignments received (training blocks and evaluation chunks).")
        results = endpoint.counter("loom_worker_results_total", "Results sent back.")
        sessions = endpoint.counter("loom_worker_sessions_total", "Connections opened to a coordinator (the first, and every reconnection).")
        assignmentDuration = endpoint.durationHistogram(
            "loom_worker_assignment_duration_seconds", "From an assignment's arrival to its result's departure.",
            bounds: Self.assignmentDurationBounds)
        lastMessage = endpoint.gauge("loom_worker_last_message_timestamp_seconds",
                                     "Unix time of the last message from a coordinator (0: none yet).")
        weightsVersion = endpoint.gauge("loom_worker_weights_version", "Weights version of the last assignment (the run's step).")
    }

    func sessionOpened() { sessions.increment() }

    func sent(_ frames: [[UInt8]]) {
        sentBytes.increment(by: frames.reduce(0) { $0 + $1.count })
        guard Self.type(of: frames) == .result else { return }
        results.increment()
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        if let start = lock.withLock({ () -> timespec? in defer { assignmentStarted = nil }; return assignmentStarted }) {
            assignmentDuration.recordNanoseconds(Int64(now.tv_sec - start.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec - start.tv_nsec))
        }
    }

    func received(_ frames: [[UInt8]]) {
        receivedBytes.increment(by: frames.reduce(0) { $0 + $1.count })
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        lastMessage.set(Double(wall.tv_sec) + Double(wall.tv_nsec) * 1e-9)
        guard Self.type(of: frames) == .assignment else { return }
        assignments.increment()
        if let header = frames.first, header.count >= 32 {
            // bytes 24..<32: the weights version (u64, little-endian)
            let version = (0..<8).reduce(UInt64(0)) { $0 | UInt64(header[24 + $1]) << (8 * UInt64($1)) }
            weightsVersion.set(Double(version))
        }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        lock.withLock { assignmentStarted = now }
    }

    /// The message type in a Loom header frame (nil for anything else: it is counted, not parsed).
    static func type(of frames: [[UInt8]]) -> MessageType? {
        guard let header = frames.first, header.count >= 7, Array(header[0..<4]) == WireHeader.magic else { return nil }
        return MessageType(rawValue: header[6])
    }
}

/// A transport that tells `WorkerMetrics` what passes through it; otherwise `base` itself.
public final class MeteredTransport: Transport {
    private let base: Transport
    private let metrics: WorkerMetrics

    public var endpoint: String { base.endpoint }

    public init(_ base: Transport, metrics: WorkerMetrics) {
        self.base = base
        self.metrics = metrics
        metrics.sessionOpened()
    }

    public func send(_ frames: [[UInt8]], to peer: PeerID) throws(TransportError) {
        try base.send(frames, to: peer)
        metrics.sent(frames)
    }

    public func receive(timeout: Duration) throws(TransportError) -> Envelope? {
        let envelope = try base.receive(timeout: timeout)
        if let envelope { metrics.received(envelope.frames) }
        return envelope
    }

    public func close() { base.close() }
}
