import ArgumentParser
import Foundation
import Logging
import LoomCheckpoint
import LoomCluster
import LoomLocal
import LoomConfig
import LoomKernels
import LoomTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model: in this process, or with a local coordinator and N worker processes.",
        discussion: """
        With --workers N (N > 0) a coordinator runs in this process and N `loom worker` \
        processes are started on this machine; the result is bitwise the same as with
        --workers 0 (everything in this process). Ctrl-C or SIGTERM writes a checkpoint and \
        stops everything; SIGUSR1 writes a checkpoint and goes on.
        """)

    @OptionGroup var configOptions: ConfigOptions

    @OptionGroup var wireOption: WireOption

    // Parsed unconditionally so that `--workers -1` reaches `validate` ("must be >= 0")
    // instead of reading as an unknown option.
    @Option(parsing: .unconditional, help: "Local worker processes (0 = compute in this process; at most 4 per CPU without --force).")
    var workers: Int = 0

    @Flag(help: "Allow --workers beyond 4 per CPU this process may run on.")
    var force = false

    @Option(help: "Resume: 'auto' (newest valid checkpoint in the run directory, else start fresh) or a checkpoint file.")
    var resume: String?

    @Option(help: ArgumentHelp("Start a new run from another checkpoint's weights (e.g. one written by `loom import-weights`): every tensor whose name and shape match is copied, the rest keep their initialisation.",
                               discussion: "Only when the run starts (step 0); a resumed run continues from its own checkpoint. A trunk tensor (outside the heads) left unloaded is an error unless --allow-partial.",
                               valueName: "checkpoint"))
    var initFrom: String?

    @Flag(help: "With --init-from: train even when trunk layers (not the heads) could not be loaded.")
    var allowPartial = false

    @Option(help: ArgumentHelp("Layers the optimizer leaves alone: 'trunk' (every layer outside the heads) or comma-separated layer names (state_dict prefixes, e.g. conv1,bn1,layer1.0.conv1).",
                               discussion: "The same as --set training.freeze=...: stored in the run's config, so a resume keeps it. With --init-from (or --resume). Batch-norm running statistics of frozen layers still follow the data.",
                               valueName: "layers"))
    var freeze: String?

    @Option(help: ArgumentHelp("With --freeze: keep the layers frozen for the first E epochs, then train them (with optimizer.trunk_lr_scale for trunk layers); 0 = the whole run.",
                               discussion: "The same as --set training.freeze_epochs=E.", valueName: "E"))
    var freezeEpochs: Int?

    @Flag(help: "Print the run directory of this config and exit.")
    var printRunDir = false

    @OptionGroup var runDirectory: RunDirectoryOptions

    @OptionGroup var metricsOptions: MetricsOptions

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard workers >= 0 else { throw ValidationError("--workers must be >= 0, got \(workers)") }
        let cpus = max(CPUAffinity.allowedCPUs().count, 1)
        if workers > 4 * cpus && !force {
            throw ValidationError("--workers \(workers) would start \(workers) processes on \(cpus) CPU(s); at most \(4 * cpus) (4 per CPU) without --force. Workers on other machines join with `loom worker --connect`")
        }
        if freeze != nil && initFrom == nil && resume == nil {
            throw ValidationError("--freeze needs --init-from (the weights to hold still) or --resume")
        }
        if let freezeEpochs, freezeEpochs < 0 { throw ValidationError("--freeze-epochs must be >= 0, got \(freezeEpochs)") }
        if let freeze, freezeOverride(freeze) == nil {
            throw ValidationError("--freeze needs 'trunk' or comma-separated layer names, got '\(freeze)'")
        }
    }

    /// The config with --freeze and --freeze-epochs as the overrides they stand for.
    private func loadConfig() throws -> RunConfig {
        var overrides = configOptions.overrides + wireOption.overrides
        if let freeze, let o = freezeOverride(freeze) { overrides.append(o) }
        if let freezeEpochs { overrides.append("training.freeze_epochs=\(freezeEpochs)") }
        return try ConfigLoader.load(path: configOptions.config, overrides: overrides)
    }

    /// `trunk` or `a,b` as a `--set training.freeze=...` argument; nil when it names nothing.
    private func freezeOverride(_ value: String) -> String? {
        let names = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if names == ["trunk"] { return "training.freeze=trunk" }
        guard !names.isEmpty, names.allSatisfy({ !$0.contains("\"") && !$0.contains("\\") }) else { return nil }
        return "training.freeze=[" + names.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }

    func run() throws {
        if printRunDir {
            try runReportingErrors { print(try loadConfig().runDirectory) }
            return
        }
        let logger = global.bootstrap(process: workers > 0 ? "coordinator" : "train")
        let control = RunSession.installSignals()
        try runReportingErrors {
            global.prepareKernels(logger)
            let config = try loadConfig()
            let run = try RunSetup.trainingRun(config: config, logger: logger, resume: resume, directory: runDirectory.policy)
            let frozen = run.state.freezing.layers
            if initFrom == nil && !frozen.isEmpty && run.state.step == 0 {
                logger.warning("training.freeze holds \(frozen.count) layers at their fresh initialisation: freezing is meant for weights loaded with --init-from")
            }
            if let initFrom, run.state.step == 0 {
                let report = try run.state.initialize(from: try CheckpointReader.read(initFrom), frozenLayers: frozen)
                let total = report.loaded.count + report.skipped.count
                if report.loaded.isEmpty {
                    throw CLIError("--init-from \(initFrom): loaded 0 of \(total) tensors; none matches this model by name and shape")
                }
                if !report.skippedInTrunk.isEmpty && !allowPartial {
                    throw CLIError("--init-from \(initFrom): loaded \(report.loaded.count) of \(total) tensors; trunk tensors left at their fresh initialisation: \(report.skippedInTrunk.joined(separator: "; ")). Pass --allow-partial to train anyway")
                }
                logger.info("initialised from \(initFrom): loaded \(report.loaded.count) tensors (\(report.loaded.joined(separator: ", "))); skipped \(report.skipped.isEmpty ? "none" : report.skipped.joined(separator: "; ")); frozen \(frozen.isEmpty ? "none" : frozen.sorted().joined(separator: ","))")
            }
            let session = try RunSession(run: run, control: control, metricsOptions: metricsOptions, logger: logger)

            let outcome: RunOutcome
            if workers == 0 {
                session.metrics?.observe(run: run, executor: nil)
                outcome = try run.run(executor: LocalExecutor(problem: run.problem, dataset: run.dataset), control: session.control)
            } else {
                outcome = try LocalCluster.train(run: run, workers: workers, control: session.control,
                                                 global: global, logger: logger, metrics: session.metrics)
            }
            session.report(outcome)
        }
    }
}
