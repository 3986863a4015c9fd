import ArgumentParser
import Foundation
import LoomCheckpoint
import LoomKernels
import LoomTraining

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Fit one temperature per head and store it in the checkpoint.",
        discussion: """
        Minimises the NLL of softmax(logits / T) (softmax heads) or the BCE of \
        sigmoid(logits / T) over the labelled elements (binary and multilabel heads, one T \
        shared by a head's labels) over log T on the validation split (carved from train by \
        data.validation_fraction, as during training), prints NLL and ECE before and after, \
        and rewrites the checkpoint atomically with /calibration/<head>. A head with no \
        labelled element in the split is skipped with a notice (no temperature stored for \
        it); calibrate fails when no head has one. \
        `loom eval` and `loom predict` then use the temperatures.
        """)

    @Argument(help: CheckpointChoice.argumentHelp)
    var checkpoint: String

    @OptionGroup var choice: CheckpointChoice

    @Option(help: "Split to fit on (default: the config's calibration.split, normally 'validation').")
    var split: String?

    @Option(help: "Write the calibrated checkpoint here instead of in place.")
    var out: String?

    @Option(help: "Dataset file (default: the checkpoint config's data.path).")
    var dataset: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws { try choice.validate(checkpoint) }

    func run() throws {
        let stop = CommandStop.install()
        let logger = global.bootstrap(process: "calibrate")
        try runReportingErrors {
            let checkpoint = try choice.resolve(self.checkpoint)
            global.prepareKernels(logger)
            var (run, contents) = try RunSetup.restoreRun(checkpoint: checkpoint, overrides: [], dataPath: dataset, logger: logger)
            let splitName = split ?? run.config.calibration.split
            let indices: [Int]
            let datasetSplit: String
            if splitName == "validation" {
                guard !run.state.validationIndices.isEmpty else {
                    throw CLIError("\(checkpoint): the run has no validation split (data.validation_fraction is 0); train with --set data.validation_fraction=0.1, or calibrate on another split with --split")
                }
                indices = run.state.validationIndices
                datasetSplit = run.config.data.trainSplit
            } else {
                indices = Array(0..<(try run.dataset.split(splitName).count))
                datasetSplit = splitName
            }
            run.state.calibration = [:]
            let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
            let predicted = PredictionProgress(executor: executor, stop: stop, logger: logger, title: "calibrate \(splitName)")
            logger.info("calibrating \(checkpoint) on split '\(splitName)' of \(run.dataset.path): \(indices.count) samples")
            let logits: [[Float]]
            do {
                logits = try executor.predict(split: datasetSplit, indices: indices, state: run.state, tta: false)
                predicted.finish()
            } catch TrainingError.stopRequested {
                throw predicted.stopped("calibration stopped; \(checkpoint) is unchanged")
            }
            let truth = try GroundTruth.read(try run.dataset.split(datasetSplit), heads: run.problem.heads).rows(indices)
            let fits: [TemperatureFit?]
            do {
                fits = try TemperatureScaling.fitHeads(run.problem.heads, logits: logits, truth: truth,
                                                       maxIterations: run.config.calibration.maxIterations)
            } catch {
                throw CLIError("\(checkpoint): split '\(splitName)': \(error)")
            }
            var temperatures: [String: Double] = [:]
            print("head           T        NLL before  NLL after   ECE before  ECE after")
            for (head, fit) in zip(run.problem.heads, fits) {
                let name = head.name.padding(toLength: 14, withPad: " ", startingAt: 0)
                guard let fit else {
                    print(name + " skipped: no labelled element in split '\(splitName)'")
                    let earlier = contents.calibration[head.name].map { String(format: "; the temperature %.4f stored for it earlier is removed", $0) } ?? ""
                    logger.notice("head '\(head.name)' has no labelled element in split '\(splitName)': skipped, no temperature stored for it (it uses T = 1)\(earlier)")
                    continue
                }
                temperatures[head.name] = fit.temperature
                print(name + String(format: " %-8.4f %-11.4f %-11.4f %-11.4f %-11.4f", fit.temperature, fit.nllBefore,
                                    fit.nllAfter, fit.eceBefore, fit.eceAfter))
            }
            contents.calibration = temperatures
            let target = out ?? URL(fileURLWithPath: checkpoint).resolvingSymlinksInPath().path
            if stop.isRequested { throw stop.exit(logger, "calibration stopped before writing; \(target) is unchanged") }
            try CheckpointWriter.write(contents, to: target)
            print("stored temperatures in \(target)")
        }
    }
}
