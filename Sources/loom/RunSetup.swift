import ArgumentParser
import Foundation
import Logging
import LoomCheckpoint
import LoomConfig
import LoomData
import LoomTraining

/// `--config FILE` and repeatable `--set key.path=value`.
struct ConfigOptions: ParsableArguments {
    @Option(help: "Run configuration (YAML).")
    var config: String

    @Option(name: .customLong("set"), help: "Override a config key: --set training.max_steps=100 (repeatable).")
    var overrides: [String] = []

    func load() throws -> RunConfig {
        try ConfigLoader.load(path: config, overrides: overrides)
    }
}

/// Opening what a run needs, with errors that name the file.
enum RunSetup {
    static func openDataset(_ path: String) throws -> Dataset {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("dataset file \(shown(path)) does not exist (data.path); import it first (loom import fashion-mnist --out \(path)), or point data.path at another: --set data.path=PATH")
        }
        return try Dataset(path: path)
    }

    /// The dataset of a checkpoint's run (`eval`, `predict`, `calibrate`): `--dataset` when
    /// given, else the config's data.path; a missing file names the option that picks another.
    static func openCheckpointDataset(_ path: String, given: Bool) throws -> Dataset {
        guard FileManager.default.fileExists(atPath: path) else {
            if given { throw CLIError("dataset file \(shown(path)) (--dataset) does not exist") }
            throw CLIError("dataset file \(shown(path)) does not exist: the checkpoint's config names it (data.path); pass --dataset PATH to use another copy, or import it there (loom import fashion-mnist --out \(path))")
        }
        return try Dataset(path: path)
    }

    /// `path`, with where it was looked for when it is relative: `data/x.h5 (looked for in /srv/run)`.
    static func shown(_ path: String) -> String {
        path.hasPrefix("/") ? path : "\(path) (looked for in \(FileManager.default.currentDirectoryPath))"
    }

    /// A TrainingRun of `config` on its dataset (`data.path`), resumed from `resume` ('auto'
    /// or a checkpoint file) when given: how `loom train` and `loom coordinator` start.
    /// `directory` decides about a run directory that holds a run (RunDirectoryGuard).
    static func trainingRun(config: RunConfig, logger: Logger, frozenLayers: Set<String> = [],
                            resume: String?, directory: RunDirectoryPolicy) throws -> TrainingRun {
        let changes = try RunDirectoryGuard.prepare(config: config, resume: resume, policy: directory, logger: logger)
        let dataset = try openDataset(config.data.path)
        // Checkpoints name the dataset by its fingerprint: make sure the data is what it names.
        try DataVerification.verify(dataset, logger: logger)
        let run = try TrainingRun(config: config, dataset: dataset, logger: logger, frozenLayers: frozenLayers)
        if let resume, try run.resume(resume) != nil { run.recordConfigChanges(changes) }
        return run
    }

    /// A TrainingRun for a checkpoint: its stored config (with overrides), weights restored.
    static func restoreRun(checkpoint path: String, overrides: [String], dataPath: String?, logger: Logger)
        throws -> (TrainingRun, CheckpointContents) {
        let contents = try CheckpointReader.read(path)
        var allOverrides = overrides
        if let dataPath { allOverrides.append("data.path=\(dataPath)") }
        let config = try ConfigLoader.parse(yaml: contents.config, source: "\(path):/config", overrides: allOverrides,
                                            defaultName: "checkpoint")
        let dataset = try openCheckpointDataset(config.data.path, given: dataPath != nil)
        let run = try TrainingRun(config: config, dataset: dataset, logger: logger)
        _ = try CheckpointReader.read(path, expecting: run.state.checkpointExpectation)
        try run.state.restore(from: contents)
        return (run, contents)
    }
}

/// What `loom train` and `loom coordinator` share around `TrainingRun.run`: the signals that
/// stop or checkpoint the run, progress on the terminal or in the log, the `--metrics-port`
/// endpoint, and how the outcome is reported.
struct RunSession {
    let run: TrainingRun
    /// Set by the signal handlers (`installSignals`); pass it to `TrainingRun.run`.
    let control: RunControl
    /// The metrics endpoint, when asked for: `observe` it once the executor exists.
    let metrics: MetricsServer?
    private let logger: Logger

    /// Reports progress of `run` and starts the metrics endpoint; `control` is the one
    /// `installSignals` gave.
    init(run: TrainingRun, control: RunControl, metricsOptions: MetricsOptions, logger: Logger) throws {
        self.run = run
        self.control = control
        self.logger = logger
        let batch = run.config.training.batchSize
        let progress = ProgressReporter(logger: logger, stepsPerEpoch: run.state.stepsPerEpoch,
                                        lastStep: run.state.lastStep, logEvery: run.config.training.logEverySteps)
        run.onStep = { progress.step($0, samplesPerSecond: $1, batch: batch) }
        run.onEvaluation = { progress.evaluation($0) }
        metrics = try metricsOptions.start(for: run, logger: logger)
    }

    /// Installs the handlers of a training command, first thing, so that a stop during
    /// start-up (kernels, dataset, resume) is a clean stop too: SIGTERM/SIGINT ask the run to
    /// checkpoint and stop, SIGUSR1 to checkpoint and go on.
    static func installSignals() -> RunControl {
        let control = RunControl()
        SignalHandling.install(stop: { control.requestStop($0) }, checkpoint: { control.requestCheckpoint() })
        return control
    }

    /// A stopped run: the step and how to continue (log). A finished run: one line per
    /// head of the final test evaluation, if there was one, and the final checkpoint (stdout).
    func report(_ outcome: RunOutcome) {
        switch outcome {
        case .stopped(let step):
            logger.notice("stopped at step \(step); continue with --resume auto")
        case .finished(let test):
            if let test { Self.printTestSummary(test) }
            if let tta = run.finalTestTTA {
                Self.printTestSummary(tta, views: " with TTA (\(run.config.data.tta.joined(separator: ", ")))")
            }
            print("final checkpoint: \(run.directory.latestPath)")
        }
    }

    /// One line per head of the final test evaluation; `views` names a TTA evaluation's.
    private static func printTestSummary(_ test: EvaluationReport, views: String = "") {
        for (name, metrics) in test.heads {
            let m = { (key: String) in MetricText.text(metrics[key] ?? .nan) }
            if metrics["map"] != nil {
                print("test mAP\(views) (\(name)): \(m("map"))  top-3 recall \(m("top3_recall"))  BCE \(m("bce"))")
                continue
            }
            print("test accuracy\(views) (\(name)): \(m("accuracy"))  balanced \(m("balanced_accuracy"))  NLL \(m("nll"))  ECE \(m("ece"))")
        }
    }
}

/// The one signal installer of every command: SIGTERM and SIGINT call `stop` with
/// "SIGTERM received" or "SIGINT received"; SIGUSR1 calls `checkpoint` when given (and is
/// left alone otherwise). Handlers run on a dispatch queue, not in signal context.
enum SignalHandling {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    static func install(stop: @escaping @Sendable (String) -> Void, checkpoint: (@Sendable () -> Void)? = nil) {
        var signals = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")]
        if checkpoint != nil { signals.append((SIGUSR1, "SIGUSR1")) }
        for (sig, name) in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if sig == SIGUSR1 { checkpoint?() } else { stop("\(name) received") }
            }
            source.resume()
            sources.append(source)
        }
    }
}
