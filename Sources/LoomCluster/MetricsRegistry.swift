// What an operator watches on a running coordinator, shared between the training thread
// (which writes after every step) and the metrics server's thread (which reads on scrape).
//
// The executor and the run are not thread-safe, so nothing here reads them from the
// server's thread: the training thread copies their numbers in (`recordStep`,
// `recordCluster`) and a scrape renders the last copy.

import Foundation

/// The values behind `/metrics`, as of the last completed step.
public struct MetricsValues: Sendable, Equatable {
    /// Steps completed (= the weights' version) and the epoch of the last step, from 1.
    public var step = 0
    public var epoch = 0
    /// Training throughput over the recent steps (samples/s).
    public var samplesPerSecond = 0.0
    /// Weighted total training loss of the last step's batch.
    public var loss = Double.nan
    public var learningRate = Double.nan
    /// Workers connected after the last step (0 for a one-process run).
    public var liveWorkers = 0
    /// Counters since the coordinator started.
    public var reassignments = 0
    public var workersJoined = 0
    public var workersLost = 0
    /// Dropped messages by reason key (`"stale result"`...).
    public var rejectedMessages: [String: Int] = [:]
    /// Wall time between consecutive step completions (includes evaluation and checkpoint pauses).
    public var stepDuration = MetricsHistogram(bounds: MetricsHistogram.stepDurationBounds)
    /// Modification time of the newest checkpoint, when there is one.
    public var lastCheckpoint: Date?
    public var runID = ""

    public init() {}
}

/// Thread-safe holder of `MetricsValues`: written by the training loop, read by scrapes.
public final class MetricsRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var values = MetricsValues()
    private var lastStepAt: ContinuousClock.Instant?
    /// `latest.h5` of the run directory: its target's mtime is the last checkpoint's time.
    private let latestCheckpointPath: String?

    /// - Parameter latestCheckpointPath: the run's `latest.h5` (nil: no checkpoint age).
    public init(latestCheckpointPath: String?, runID: String = "") {
        self.latestCheckpointPath = latestCheckpointPath
        values.runID = runID
    }

    /// Records a completed step. The step-time histogram gets the time since the previous
    /// step (nothing for the first step after a start or resume: it includes set-up).
    public func recordStep(step: Int, epoch: Int, loss: Double, learningRate: Double, samplesPerSecond: Double,
                           at now: ContinuousClock.Instant = ContinuousClock.now) {
        lock.lock(); defer { lock.unlock() }
        if let previous = lastStepAt {
            let d = now - previous
            values.stepDuration.observe(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        lastStepAt = now
        values.step = step
        values.epoch = epoch
        values.loss = loss
        values.learningRate = learningRate
        values.samplesPerSecond = samplesPerSecond
    }

    /// Records the cluster's membership and counters (call from the thread driving the executor).
    public func recordCluster(liveWorkers: Int, reassignments: Int, workersJoined: Int, workersLost: Int,
                              rejectedMessages: [String: Int]) {
        lock.lock(); defer { lock.unlock() }
        values.liveWorkers = liveWorkers
        values.reassignments = reassignments
        values.workersJoined = workersJoined
        values.workersLost = workersLost
        values.rejectedMessages = rejectedMessages
    }

    /// Sets the run id shown in `loom_run_info` (it changes on resume).
    public func recordRunID(_ runID: String) {
        lock.lock(); defer { lock.unlock() }
        values.runID = runID
    }

    /// A consistent copy of the values, with the checkpoint time read from disk now.
    public func snapshot() -> MetricsValues {
        lock.lock()
        var copy = values
        lock.unlock()
        copy.lastCheckpoint = latestCheckpointPath.flatMap(Self.modificationTime)
        return copy
    }

    /// The Prometheus text exposition of the current values.
    public func exposition(now: Date = Date()) -> String {
        MetricsExposition.render(snapshot(), now: now)
    }

    /// mtime of the file a path (or symlink) points to; nil when there is none.
    static func modificationTime(_ path: String) -> Date? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) * 1e-9)
    }
}

extension MetricsRegistry {
    /// Copies the executor's live workers, reassignments and reject counts in. Call on the
    /// thread that drives the executor (e.g. from `TrainingRun.onStep`).
    public func recordCluster(_ executor: ClusterExecutor) {
        let s = executor.statistics
        recordCluster(liveWorkers: executor.liveWorkers.count, reassignments: s.blocksReassigned,
                      workersJoined: s.workersJoined, workersLost: s.workersLost,
                      rejectedMessages: executor.rejects.byReason)
    }
}
