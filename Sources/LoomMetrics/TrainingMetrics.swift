// What an operator watches on a run (`loom train`, `loom coordinator`): progress, loss,
// learning rate, step time, evaluation per head, and the age of the newest checkpoint.
// Written by the training thread after every step; read by scrapes on another thread
// (swift-prometheus' metrics are atomic).

import CoreMetrics

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One evaluation's numbers for one head, as the metrics show them.
public struct HeadEvaluation: Sendable, Equatable {
    public var head: String
    /// Accuracy (softmax heads) or nil (heads without one, e.g. multi-label).
    public var accuracy: Double?
    /// The head's loss: negative log-likelihood (softmax) or binary cross-entropy (multi-label).
    public var loss: Double?

    public init(head: String, accuracy: Double?, loss: Double?) {
        self.head = head; self.accuracy = accuracy; self.loss = loss
    }
}

public final class TrainingMetrics: @unchecked Sendable {
    /// Step times of a CPU training run: 5 ms (a tiny model) to a minute (a stalled cluster).
    public static let stepDurationBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    private let endpoint: MetricsEndpoint
    private let lock = Lock()
    private let step, epoch, samplesPerSecond, loss, learningRate: Meter
    private let stepDuration: CoreMetrics.Timer
    private var runInfo: (runID: String, gauge: Meter)?
    private var evaluation: [String: Meter] = [:]
    private var lastStepAt: timespec?
    private var checkpointAge: Meter?
    private let latestCheckpointPath: String?

    /// - Parameter latestCheckpointPath: the run's `latest.h5`, whose target's modification
    ///   time is the newest checkpoint's (nil: no `loom_checkpoint_age_seconds`).
    public init(endpoint: MetricsEndpoint, latestCheckpointPath: String?, runID: String) {
        self.endpoint = endpoint
        self.latestCheckpointPath = latestCheckpointPath
        step = endpoint.gauge("loom_step", "Optimizer steps completed.")
        epoch = endpoint.gauge("loom_epoch", "Epoch of the last step, from 1 (as in the log).")
        samplesPerSecond = endpoint.gauge("loom_samples_per_second", "Training throughput over the recent steps.")
        loss = endpoint.gauge("loom_loss", "Weighted total training loss of the last batch (NaN before the first step).",
                              initial: .nan)
        learningRate = endpoint.gauge("loom_learning_rate", "Learning rate of the last step (NaN before the first step).",
                                      initial: .nan)
        stepDuration = endpoint.durationHistogram(
            "loom_step_duration_seconds",
            "Time between step completions (includes evaluation and checkpoint pauses).",
            bounds: Self.stepDurationBounds)
        recordRunID(runID)
        endpoint.beforeScrape { [weak self] in self?.refreshCheckpointAge() }
    }

    /// `loom_run_info{run_id}` = 1 for the current run id (it changes on resume).
    public func recordRunID(_ runID: String) {
        lock.withLock {
            guard runInfo?.runID != runID else { return }
            if let old = runInfo { endpoint.remove(old.gauge) }
            runInfo = (runID, endpoint.gauge("loom_run_info", "1, labelled with the run id.",
                                             labels: [("run_id", runID)], initial: 1))
        }
    }

    /// A completed step. The histogram gets the time since the previous step (nothing for
    /// the first step after a start or resume: it includes set-up).
    public func recordStep(step: Int, epoch: Int, loss: Double, learningRate: Double, samplesPerSecond: Double) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let previous: timespec? = lock.withLock {
            defer { lastStepAt = now }
            return lastStepAt
        }
        if let previous {
            let nanoseconds = Int64(now.tv_sec - previous.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec - previous.tv_nsec)
            stepDuration.recordNanoseconds(nanoseconds)
        }
        self.step.set(step)
        self.epoch.set(epoch)
        self.loss.set(loss)
        self.learningRate.set(learningRate)
        self.samplesPerSecond.set(samplesPerSecond)
    }

    /// An evaluation of `split` (`validation`, `test`): accuracy and loss per head.
    public func recordEvaluation(split: String, heads: [HeadEvaluation]) {
        for h in heads {
            let labels = [("split", split), ("head", h.head)]
            if let accuracy = h.accuracy {
                gauge("loom_eval_accuracy", "Accuracy of a head at the latest evaluation of a split.", labels).set(accuracy)
            }
            if let loss = h.loss {
                gauge("loom_eval_loss", "Loss of a head at the latest evaluation of a split (NLL, or BCE for multi-label heads).",
                      labels).set(loss)
            }
        }
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)]) -> Meter {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        return lock.withLock {
            if let g = evaluation[key] { return g }
            let g = endpoint.gauge(name, help, labels: labels, initial: .nan)
            evaluation[key] = g
            return g
        }
    }

    /// `loom_checkpoint_age_seconds`: seconds since the newest checkpoint was written;
    /// absent until there is one (dashboards then show "no data" rather than a lie).
    private func refreshCheckpointAge() {
        guard let path = latestCheckpointPath else { return }
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let age = max(0, Double(now.tv_sec - info.st_mtim.tv_sec) + Double(now.tv_nsec - info.st_mtim.tv_nsec) * 1e-9)
        let gauge = lock.withLock {
            if checkpointAge == nil {
                checkpointAge = endpoint.gauge("loom_checkpoint_age_seconds", "Seconds since the newest checkpoint was written.")
            }
            return checkpointAge!
        }
        gauge.set(age)
    }
}
