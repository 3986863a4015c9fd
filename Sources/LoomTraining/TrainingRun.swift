// The run driver: resume, step loop, history, evaluation, checkpoints, stop requests.
// Who computes the steps is a `StepExecutor`; what a step is, `TrainingState`. Checkpoints
// are written every `checkpoint.every_steps` steps, at each epoch end, at the end of the
// run, and when `RunControl` asks (SIGTERM/SIGINT: then stop; SIGUSR1: then go on).

import Foundation
import Logging
import LoomCheckpoint
import LoomConfig
import LoomData
import LoomKernels
import LoomTensorBoard

/// Requests that reach a run from outside (signal handlers): thread-safe flags.
public final class RunControl: @unchecked Sendable {
    private let lock = NSLock()
    private var stop = false
    private var checkpoint = false
    public private(set) var reason = ""

    public init() {}

    /// Checkpoint, then stop (SIGTERM, SIGINT).
    public func requestStop(_ why: String) { lock.lock(); stop = true; reason = why; lock.unlock() }
    /// Checkpoint, then continue (SIGUSR1).
    public func requestCheckpoint() { lock.lock(); checkpoint = true; lock.unlock() }

    public var stopRequested: Bool { lock.lock(); defer { lock.unlock() }; return stop }
    func takeCheckpointRequest() -> Bool {
        lock.lock(); defer { lock.unlock() }
        let c = checkpoint; checkpoint = false; return c
    }
}

/// How a run ended.
public enum RunOutcome: Sendable {
    case finished(test: EvaluationReport?)
    case stopped(atStep: Int)
}

public final class TrainingRun {
    public let config: RunConfig
    public let dataset: Dataset
    public let problem: TrainingProblem
    public let state: TrainingState
    public let directory: RunDirectory
    public private(set) var runID: String
    public let logger: Logger
    /// Called after every step with the summary and the samples/s of the recent steps.
    public var onStep: ((StepSummary, Double) -> Void)?
    /// Called after each evaluation.
    public var onEvaluation: ((EvaluationReport) -> Void)?
    private var lastCheckpointStep = -1
    /// Checkpoint writes that failed since the last one that succeeded (a full disk...).
    private var failedCheckpoints = 0
    /// metrics.csv missed rows (an append failed): rewritten whole from the history after
    /// the next checkpoint that succeeds, and not appended to until then.
    private var metricsCSVStale = false
    /// The last evaluation gave a new best of `checkpoint.keep_best`: write `best.h5`.
    var bestDue = false
    /// The latest test-split evaluation and the step it saw (not repeated at the end).
    private var lastTestEvaluation: (step: Int, report: EvaluationReport)?
    /// With `training.test_tta`: the finished run's test split evaluated over the views of
    /// `data.tta`, beside the plain evaluation `.finished` carries (nil otherwise).
    public private(set) var finalTestTTA: EvaluationReport?
    private let started = Date()
    private var wallOffset = 0.0
    /// The kernels the steps are computed with, as the executor last reported them.
    private var kernels: KernelIdentity?
    /// The kernels the checkpoint this run resumed from recorded (nil: none recorded).
    private var resumedKernels: KernelIdentity?
    /// Workers joined and lost before this process took the run over (from the checkpoint
    /// resumed from), and the executor's own counts as last seen.
    private var workersBefore: (joined: Int, lost: Int) = (0, 0)
    private var workersNow: (joined: Int, lost: Int)?
    /// The event file of `training.tensorboard`, opened at the first row logged.
    private var tensorBoard: EventFileWriter?
    private var tensorBoardFailed = false
    /// Config changes made when this run was resumed, oldest first, one line per resume
    /// ("step 12 at 2026-12-06T08:40:00Z: optimizer.lr: 0.05 -> 0.01; ..."); carried from
    /// checkpoint to checkpoint as the `/extra` attribute `config_changes`.
    public private(set) var configChangeLog: [String] = []
    /// The evaluation a stop interrupted (see `PendingEvaluation`): kept in the checkpoint of
    /// its step and done first when the run resumes.
    private var pendingEvaluation: PendingEvaluation?
    /// The executor of the running `run`, asked to bring the weights home before a checkpoint.
    private var synchronizing: StepExecutor?
    /// The last checkpoint written (or the state `run` started from): what a lost shard
    /// server rolls the run back to.
    private var lastSaved: CheckpointContents?
    func appendConfigChangeLine(_ line: String) { configChangeLog.append(line) }

    /// Sets up a run: carves the validation split, resolves the heads, initialises weights.
    /// `frozenLayers`: layer names (state_dict prefixes) whose parameters never change.
    public init(config: RunConfig, dataset: Dataset, logger: Logger,
                frozenLayers: Set<String> = []) throws(TrainingError) {
        self.config = config
        self.dataset = dataset
        self.logger = logger
        let train: DatasetSplit
        do { train = try dataset.split(config.data.trainSplit) } catch { throw .dataset(error) }
        let carved = ValidationSplit.carve(count: train.count, fraction: config.data.validationFraction,
                                           seed: config.training.seed)
        problem = try TrainingProblem.resolve(config: config, dataset: dataset, trainIndices: carved.train)
        let truth = try GroundTruth.read(train, heads: problem.heads)
        state = try TrainingState(problem: problem, truth: truth, trainIndices: carved.train,
                                  validationIndices: carved.validation, frozenLayers: frozenLayers)
        directory = RunDirectory(path: config.runDirectory)
        runID = String(RunID.random(), radix: 16)
    }

    /// Continues from a checkpoint: `"auto"` (the newest valid one in the run directory, or
    /// a fresh start when there is none) or a file path. Returns the path resumed from.
    @discardableResult
    public func resume(_ spec: String) throws(TrainingError) -> String? {
        let point: ResumePoint?
        do { point = try directory.resolveResume(spec, expecting: state.checkpointExpectation) } catch {
            throw .runDirectory(error)
        }
        guard let point else {
            logger.info("no checkpoint in \(directory.path): starting a new run")
            // A run killed before its first checkpoint may have logged rows; they belong to
            // no checkpoint, so the new run's history starts empty (else rows repeat).
            if FileManager.default.fileExists(atPath: directory.metricsPath) {
                do { try FileManager.default.removeItem(atPath: directory.metricsPath) } catch {
                    throw .fileSystem(path: directory.metricsPath, reason: "cannot remove this stale file: \(error.localizedDescription)")
                }
            }
            return nil
        }
        for (path, error) in point.skipped {
            logger.warning("skipping checkpoint \(path): \(error)")
        }
        guard point.contents.datasetFingerprint == dataset.fingerprint else {
            throw .checkpointDoesNotFit(path: point.path, reason: "it was trained on dataset \(point.contents.datasetFingerprint), but \(dataset.path) is \(dataset.fingerprint)")
        }
        try state.restore(from: point.contents)
        runID = point.contents.runID
        if !point.contents.blasCore.isEmpty {
            resumedKernels = KernelIdentity(blasCore: point.contents.blasCore, loomPath: point.contents.loomKernelPath,
                                            revision: point.contents.loomKernelRevision)
        }
        lastCheckpointStep = state.step
        configChangeLog = ConfigChangeLog.lines(point.contents.extraAttributes[ConfigChangeLog.attribute])
        pendingEvaluation = PendingEvaluation(point.contents.extraAttributes[PendingEvaluation.attribute] ?? "")
            .flatMap { $0.step == state.step ? $0 : nil }
        wallOffset = point.contents.metrics["wall_s"]?.last(where: { !$0.isNaN }) ?? 0
        workersBefore = (Int(point.contents.extraAttributes["workers_joined"] ?? "") ?? 0,
                         Int(point.contents.extraAttributes["workers_lost"] ?? "") ?? 0)
        do { try directory.rewriteMetricsCSV(state.history) } catch { throw .runDirectory(error) }
        logger.info("resumed from \(point.path) at step \(state.step) (epoch \(state.epoch))")
        logResumedWatch()
        return point.path
    }

    /// Runs until the last step, or until `control` asks to stop.
    public func run(executor: StepExecutor, control: RunControl) throws(TrainingError) -> RunOutcome {
        logger.info("run \(runID): \(state.lastStep - state.step) steps to go (\(state.stepsPerEpoch) per epoch, batch \(config.training.batchSize), micro-batch \(config.training.microBatch)), checkpoints in \(directory.path)")
        do {
            try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        } catch {
            throw .fileSystem(path: directory.path, reason: "cannot create the run directory: \(error.localizedDescription)")
        }
        // A one-process run's predictions give up between chunks when a stop is requested.
        let local = executor as? LocalExecutor
        let earlierStop = local?.shouldStop
        local?.shouldStop = { control.stopRequested }
        defer { local?.shouldStop = earlierStop }
        if pendingEvaluation != nil, let outcome = try finishPendingEvaluation(executor: executor, control: control) {
            return outcome
        }
        logFreezing()
        synchronizing = executor
        defer { synchronizing = nil }
        // What a rollback returns to until the first checkpoint of this process is written.
        if executor.appliesOptimizer && lastSaved == nil { lastSaved = checkpointContents() }
        var recent: [(Date, Int)] = [(Date(), 0)]
        while !state.isFinished {
            if control.stopRequested {
                try checkpoint(reason: control.reason)
                return .stopped(atStep: state.step)
            }
            if control.takeCheckpointRequest() { try checkpoint(reason: "checkpoint requested (SIGUSR1)", mayRetryLater: true) }
            let plan = state.plan(step: state.step)
            let result: ShardResult
            do {
                result = try executor.execute(plan: plan, state: state)
            } catch {
                // A cluster waiting for its workers stops here; the step is simply not taken.
                if case .stopRequested = error { return try stopped(control) }
                if case .shardServerLost(let why) = error {
                    try rollBack(why)
                    continue
                }
                throw error
            }
            noteKernels(executor.kernels)
            workersNow = executor.workerCounts
            let summary = try state.apply(plan: plan, result: result, optimizerApplied: executor.appliesOptimizer)
            executor.recycle(result)
            recent.append((Date(), plan.sampleIndices.count))
            if recent.count > 20 { recent.removeFirst() }
            let elapsed = recent.last!.0.timeIntervalSince(recent.first!.0)
            let samples = recent.dropFirst().reduce(0) { $0 + $1.1 }
            let throughput = elapsed > 0 ? Double(samples) / elapsed : 0
            onStep?(summary, throughput)

            let logEvery = max(config.training.logEverySteps, 1)
            let evalEvery = config.training.evalEverySteps
            let everyEpochs = config.training.evalEveryEpochs
            let epochDue = summary.endsEpoch
                && (state.isFinished || (everyEpochs > 0 && (summary.epoch + 1) % everyEpochs == 0))
            let evaluate = epochDue || (evalEvery > 0 && state.step % evalEvery == 0)
            if evaluate || state.step % logEvery == 0 || state.isFinished {
                var row: [String: Double] = ["samples_per_s": throughput, "wall_s": wallClock()]
                if evaluate {
                    executor.idle()
                    let report: EvaluationReport?
                    do { report = try evaluateDuringTraining(executor: executor) } catch {
                        if case .stopRequested = error {
                            // The step is applied but its row waits for the evaluation: the
                            // checkpoint keeps the row's other columns, and the resumed run
                            // evaluates first (finishPendingEvaluation).
                            pendingEvaluation = PendingEvaluation(step: state.step, columns: row)
                            return try stopped(control)
                        }
                        if case .shardServerLost(let why) = error {
                            try rollBack(why)
                            continue
                        }
                        throw error
                    }
                    row.merge(historyColumns(report)) { $1 }
                    if let report { row.merge(watch(report)) { $1 } }
                }
                state.recordHistoryRow(extra: row)
                appendMetricsRow()
                writeTensorBoard(state.history.row(state.history.rowCount - 1))
                try saveBestIfDue(executor: executor)
            }
            let every = config.checkpoint.everySteps
            if summary.endsEpoch || (every > 0 && state.step % every == 0) || state.isFinished {
                executor.idle()
                try checkpoint(reason: summary.endsEpoch ? "end of epoch \(summary.epoch + 1)" : "step \(state.step)",
                               mayRetryLater: !state.isFinished)
            }
        }
        executor.idle()
        do {
            let test: EvaluationReport?
            if let last = lastTestEvaluation, last.step == state.step { test = last.report } else {
                test = try evaluate(split: config.data.testSplit, executor: executor)
            }
            if config.training.testTTA {
                finalTestTTA = try evaluate(split: config.data.testSplit, executor: executor, tta: true)
            }
            return .finished(test: test)
        } catch {
            if case .stopRequested = error { return try stopped(control) }
            throw error
        }
    }

    /// The evaluation a stop interrupted at this step, done now: its history row is written
    /// as the uninterrupted run wrote it (the timing columns aside), and the checkpoint of
    /// the step written again with the row. Returns the outcome when stopped again.
    private func finishPendingEvaluation(executor: StepExecutor, control: RunControl) throws(TrainingError) -> RunOutcome? {
        guard let pending = pendingEvaluation, pending.step == state.step else { return nil }
        logger.info("evaluating step \(state.step) first: a stop interrupted its evaluation")
        executor.idle()
        let report: EvaluationReport?
        do { report = try evaluateDuringTraining(executor: executor) } catch {
            if case .stopRequested = error { return try stopped(control) }
            throw error
        }
        var row = pending.columns
        row.merge(historyColumns(report)) { $1 }
        if let report { row.merge(watch(report)) { $1 } }
        pendingEvaluation = nil
        state.recordHistoryRow(extra: row)
        appendMetricsRow()
        writeTensorBoard(state.history.row(state.history.rowCount - 1))
        try saveBestIfDue(executor: executor)
        lastCheckpointStep = -1
        try checkpoint(reason: "step \(state.step) with its evaluation")
        return nil
    }

    /// A stop requested while the executor waited: checkpoint what is applied, and say so.
    private func stopped(_ control: RunControl) throws(TrainingError) -> RunOutcome {
        try checkpoint(reason: control.reason.isEmpty ? "stop requested" : control.reason)
        return .stopped(atStep: state.step)
    }

    /// Evaluates a whole split (`test`, or the carved `validation` set). `onEvaluation` hears
    /// of plain evaluations only: one over `data.tta`'s views is the caller's to report.
    public func evaluate(split: String, executor: StepExecutor, tta: Bool = false) throws(TrainingError) -> EvaluationReport? {
        if split == "validation" {
            guard !state.validationIndices.isEmpty else { return nil }
            let r = try Evaluation.run(split: config.data.trainSplit, indices: state.validationIndices, dataset: dataset,
                                       state: state, executor: executor, tta: tta)
            if !tta { onEvaluation?(r) }
            return r
        }
        let s: DatasetSplit
        do { s = try dataset.split(split) } catch { throw .dataset(error) }
        var r = try Evaluation.run(split: split, indices: Array(0..<s.count), dataset: dataset, state: state,
                                   executor: executor, tta: tta)
        r.split = split
        if split == config.data.testSplit && !tta { lastTestEvaluation = (state.step, r) }
        if !tta { onEvaluation?(r) }
        return r
    }

    /// Writes a checkpoint of the current state (skipped when one exists for this step).
    ///
    /// When the write fails (`.writeFailed`: a full disk, an I/O error) and `mayRetryLater`
    /// (the run goes on and will checkpoint again), the failure is logged and the run
    /// continues, up to `checkpoint.max_consecutive_failures` failures in a row: nothing is
    /// lost while the next attempt can succeed, and the earlier checkpoints are intact.
    /// Any other failure, one more in a row, or a failed checkpoint the run stops after
    /// (the last, or on a stop request) throws `.checkpointWrite`.
    public func checkpoint(reason: String, mayRetryLater: Bool = false) throws(TrainingError) {
        guard lastCheckpointStep != state.step else { return }
        do { try synchronizing?.synchronize(state) } catch {
            // Weights held by a lost shard server cannot be saved: back to the last checkpoint.
            guard case .shardServerLost(let why) = error else { throw error }
            return try rollBack(why)
        }
        let contents = checkpointContents()
        do {
            let path = try directory.save(contents, keep: config.checkpoint.keep)
            lastCheckpointStep = state.step
            if synchronizing?.appliesOptimizer == true { lastSaved = contents }
            logger.info("checkpoint \(path) (\(reason))")
            if failedCheckpoints > 0 {
                logger.notice("checkpoints are written again (step \(state.step), after \(failedCheckpoints) failed)")
                failedCheckpoints = 0
            }
            if metricsCSVStale { rewriteMetricsCSV() }
        } catch {
            let allowed = config.checkpoint.maxConsecutiveFailures
            guard mayRetryLater, case .writeFailed = error.reason, failedCheckpoints < allowed else {
                throw .checkpointWrite(step: state.step, cause: error)
            }
            failedCheckpoints += 1
            logger.error("checkpoint at step \(state.step) failed (\(failedCheckpoints) in a row; the run stops after \(allowed + 1)), training goes on and the next checkpoint tries again; the previous checkpoints are intact: \(error)")
        }
    }

    /// Returns the run to the last checkpoint this process wrote or started from (kept in
    /// memory, so no file is read): every step since is replayed, bitwise as before
    /// (ARCHITECTURE.md, invariant 1), so only time is lost. The executor resends the state
    /// to its shard servers before the next step.
    private func rollBack(_ why: String) throws(TrainingError) {
        guard let saved = lastSaved else { throw .shardServerLost(why) }
        let from = state.step
        try state.restore(from: saved)
        lastCheckpointStep = state.step
        pendingEvaluation = nil
        do { try directory.rewriteMetricsCSV(state.history) } catch { throw .runDirectory(error) }
        let redone = from == state.step ? "step \(from + 1), under way, starts again" : "steps \(state.step + 1)...\(from) and the one under way are computed again, to the same bits"
        logger.warning("\(why): rolling back from step \(from) to the last checkpoint, step \(state.step), and going on (\(redone))")
    }

    /// The current state as a checkpoint, with the run's bookkeeping in `/extra`.
    func checkpointContents() -> CheckpointContents {
        var contents = state.snapshot(runID: runID, datasetFingerprint: dataset.fingerprint)
        // Photo datasets: how images were prepared, so `loom predict --image` does the same.
        if let p = dataset.imagePreprocessing { contents.extraAttributes[PhotoDatasetInfo.preprocessingAttribute] = p }
        if let kernels = kernels ?? resumedKernels {
            contents.blasCore = kernels.blasCore
            contents.loomKernelPath = kernels.loomPath
            contents.loomKernelRevision = kernels.revision
        }
        // Who computed the run, for reports: not part of the weights or the history, so
        // runs on different numbers of workers keep identical histories.
        if workersNow != nil || workersBefore != (0, 0) {
            let now = workersNow ?? (0, 0)
            contents.extraAttributes["workers_joined"] = String(workersBefore.joined + now.joined)
            contents.extraAttributes["workers_lost"] = String(workersBefore.lost + now.lost)
        }
        if !configChangeLog.isEmpty {
            contents.extraAttributes[ConfigChangeLog.attribute] = configChangeLog.joined(separator: "\n")
        }
        if let pending = pendingEvaluation, pending.step == state.step {
            contents.extraAttributes[PendingEvaluation.attribute] = pending.text
        }
        return contents
    }

    /// Appends the newest history row to metrics.csv. A failure (a full disk) does not stop
    /// the run: the row is in the history, which every checkpoint holds, and metrics.csv is
    /// rewritten from it after the next checkpoint that succeeds.
    private func appendMetricsRow() {
        guard !metricsCSVStale else { return }
        do {
            try directory.appendMetricsCSV(state.history.rows((state.history.rowCount - 1)..<state.history.rowCount))
        } catch {
            metricsCSVStale = true
            logger.warning("metrics.csv: a row could not be appended (training goes on; the file is rewritten from the history after the next checkpoint): \(error)")
        }
    }

    private func rewriteMetricsCSV() {
        do {
            try directory.rewriteMetricsCSV(state.history)
            metricsCSVStale = false
            logger.notice("metrics.csv rewritten from the history: its missing rows are back")
        } catch {
            logger.warning("metrics.csv could not be rewritten yet (tried again after the next checkpoint): \(error)")
        }
    }

    /// Keeps the executor's kernels for the checkpoints, and says once when they differ
    /// from those of the checkpoint this run resumed from: from here on the run's weights
    /// match an uninterrupted run only to rounding.
    private func noteKernels(_ reported: KernelIdentity?) {
        guard let reported, reported != kernels else { return }
        if let resumed = resumedKernels, !resumed.computesSameBits(as: reported) {
            logger.warning("this run resumed from a checkpoint trained with \(resumed) and continues with \(reported): its weights now match an uninterrupted run only to rounding, not bitwise")
            resumedKernels = nil
        }
        kernels = reported
    }

    private func evaluateDuringTraining(executor: StepExecutor) throws(TrainingError) -> EvaluationReport? {
        if !state.validationIndices.isEmpty { return try evaluate(split: "validation", executor: executor) }
        return try evaluate(split: config.data.testSplit, executor: executor)
    }

    /// History columns of an evaluation: `val_*` for the validation split, `test_*` otherwise.
    private func historyColumns(_ report: EvaluationReport?) -> [String: Double] {
        guard let report else { return [:] }
        let prefix = report.split == config.data.trainSplit ? "val" : "test"
        var row: [String: Double] = ["\(prefix)_loss": report.loss]
        for (name, metrics) in report.heads {
            if let a = metrics["accuracy"] { row["\(prefix)_accuracy/\(name)"] = a }
            if let b = metrics["balanced_accuracy"] { row["\(prefix)_balanced_accuracy/\(name)"] = b }
            if let m = metrics["map"] { row["\(prefix)_map/\(name)"] = m }
            if let e = metrics["ece"] { row["ece/\(name)"] = e }
        }
        return row
    }

    /// Appends a history row to the `training.tensorboard` event file. A failure stops the
    /// events (with a warning), not the training: metrics.csv and the checkpoints hold the
    /// same numbers, and `loom export-tensorboard` writes them again.
    private func writeTensorBoard(_ row: [String: Double]) {
        let dir = config.training.tensorboard
        guard !dir.isEmpty, !tensorBoardFailed, let event = ScalarEvent(row: row, wallTime: Date().timeIntervalSince1970) else { return }
        do {
            if tensorBoard == nil {
                tensorBoard = try EventFileWriter(directory: dir)
                logger.info("TensorBoard events in \(tensorBoard!.path)")
            }
            try tensorBoard!.append([event])
        } catch {
            tensorBoardFailed = true
            logger.warning("TensorBoard events stopped (training goes on; loom export-tensorboard rewrites them): \(error)")
        }
    }

    private func wallClock() -> Double { wallOffset + Date().timeIntervalSince(started) }
}

/// An in-training evaluation a stop interrupted (SIGTERM while a cluster waited for the
/// evaluation's results, or between two chunks of a one-process evaluation). The step is
/// applied and checkpointed, but its history row, which holds the evaluation, is not
/// written; the row's other columns are kept in the checkpoint's `/extra` attribute
/// `pending_evaluation` (`step=12 samples_per_s=803.5 wall_s=4.25`), and the resumed run
/// evaluates and writes the row before its next step.
struct PendingEvaluation {
    static let attribute = "pending_evaluation"
    var step: Int
    /// The row's columns known at the stop (speed, wall time).
    var columns: [String: Double]

    init(step: Int, columns: [String: Double]) { self.step = step; self.columns = columns }

    /// Parses `text`; nil when it is not one.
    init?(_ text: String) {
        var step: Int?
        var columns: [String: Double] = [:]
        for field in text.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return nil }
            if parts[0] == "step" { step = Int(parts[1]) } else if let v = Double(parts[1]) { columns[parts[0]] = v } else { return nil }
        }
        guard let step else { return nil }
        self.step = step; self.columns = columns
    }

    var text: String {
        (["step=\(step)"] + columns.keys.sorted().map { "\($0)=\(columns[$0]!)" }).joined(separator: " ")
    }
}

/// A run's id: 64 bits from the system's random generator, drawn once when a run starts
/// (resumes keep theirs). It names the run on the wire and in checkpoints and is part of no
/// result, so unlike every other random choice it is not keyed by the seed: two runs with
/// one config must not be taken for one.
enum RunID {
    static func random() -> UInt64 {
        var g = SystemRandomNumberGenerator()
        return g.next() | 1
    }
}
