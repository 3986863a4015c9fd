import ArgumentParser
import Foundation
import LoomCheckpoint
import LoomKernels
import LoomReport
import LoomTraining

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on a dataset split (calibrated, with optional test-time augmentation).")

    @Argument(help: CheckpointChoice.argumentHelp)
    var checkpoint: String

    @OptionGroup var choice: CheckpointChoice

    @Option(help: "Split: test (default), validation (carved from train as in the run), or any split of the dataset.")
    var split: String = "test"

    @Option(help: "Dataset file (default: the checkpoint config's data.path).")
    var dataset: String?

    @Flag(help: "Average the config's test-time augmentation views (data.tta).")
    var tta = false

    @Flag(help: "Ignore the calibration temperatures stored in the checkpoint.")
    var uncalibrated = false

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func validate() throws { try choice.validate(checkpoint) }

    func run() throws {
        let stop = CommandStop.install()
        let logger = global.bootstrap(process: "eval")
        try runReportingErrors {
            let checkpoint = try choice.resolve(self.checkpoint)
            global.prepareKernels(logger)
            let (run, _) = try RunSetup.restoreRun(checkpoint: checkpoint, overrides: [], dataPath: dataset, logger: logger)
            if uncalibrated { run.state.calibration = [:] }
            let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
            let predicted = PredictionProgress(executor: executor, stop: stop, logger: logger, title: "eval \(split)")
            let total = split == "validation" ? run.state.validationIndices.count : try run.dataset.split(split).count
            logger.info("evaluating \(checkpoint) on split '\(split)' of \(run.dataset.path): \(total) samples\(tta ? ", TTA" : "")")
            let evaluated: EvaluationReport?
            do {
                evaluated = try run.evaluate(split: split, executor: executor, tta: tta)
                predicted.finish()
            } catch TrainingError.stopRequested {
                throw predicted.stopped("evaluation stopped; nothing printed")
            }
            guard let report = evaluated else {
                throw CLIError("split '\(split)' is empty for this run (data.validation_fraction is 0?)")
            }
            print(json ? EvaluationSummary(checkpoint: checkpoint, report: report, heads: run.problem.heads).json()
                  : EvaluationPrinter.text(report, problem: run.problem))
        }
    }
}

enum EvaluationPrinter {
    static func text(_ r: EvaluationReport, problem: TrainingProblem) -> String {
        var out = "split \(r.split == "train" ? "validation" : r.split): \(r.count) samples, loss \(MetricText.text(r.loss))\n"
        // Softmax and binary heads in one table, multilabel heads (K sigmoids) in another; a
        // metric a head does not have (nothing labelled) is n/a, and the mean row leaves it out.
        let single = r.heads.indices.filter { !problem.heads[$0].usesTargets }
        let multi = r.heads.indices.filter { problem.heads[$0].usesTargets }
        func table(_ heads: [Int], _ columns: [String], mean: Bool) {
            out += "head".padding(toLength: 14, withPad: " ", startingAt: 0) + columns.map { $0.padding(toLength: 19, withPad: " ", startingAt: 0) }.joined() + "\n"
            for h in heads {
                out += r.heads[h].name.padding(toLength: 14, withPad: " ", startingAt: 0)
                out += columns.map { MetricText.column(r.heads[h].metrics[$0] ?? .nan, width: 19) }.joined() + "\n"
            }
            if mean && heads.count > 1 {
                out += "mean".padding(toLength: 14, withPad: " ", startingAt: 0)
                out += columns.map { MetricText.column(r.mean($0, over: heads), width: 19) }.joined() + "\n"
            }
        }
        // The top-k columns are the k the metrics computed (k < classes for softmax heads).
        func topK(_ heads: [Int], _ suffix: String) -> [String] {
            Set(heads.flatMap { r.heads[$0].metrics.keys.filter { $0.hasPrefix("top") && $0.hasSuffix(suffix) } })
                .sorted { Int($0.dropFirst(3).prefix { $0.isNumber }) ?? 0 < Int($1.dropFirst(3).prefix { $0.isNumber }) ?? 0 }
        }
        if !single.isEmpty {
            table(single, ["accuracy", "balanced_accuracy"] + topK(single, "_accuracy") + ["nll", "ece"], mean: true)
        }
        if !multi.isEmpty {
            if !single.isEmpty { out += "\n" }
            table(multi, ["map"] + topK(multi, "_recall") + ["bce"], mean: true)
        }
        for (h, head) in problem.heads.enumerated() {
            guard head.kind == .softmax, let counts = r.confusion[h], let m = ConfusionMatrix(counts: counts) else { continue }
            out += "\nper class, \(head.name):  recall  precision  (labelled)\n"
            for c in 0..<m.classes {
                let label = c < head.classNames.count ? head.classNames[c] : "\(c)"
                out += "  " + label.padding(toLength: 16, withPad: " ", startingAt: 0) + MetricText.column(m.recall(c) ?? .nan, width: 8)
                    + MetricText.column(m.precision(c) ?? .nan, width: 11) + "(\(m.support(c)))\n"
            }
        }
        return out
    }
}
