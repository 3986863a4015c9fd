import ArgumentParser
import Foundation
import LoomCheckpoint
import LoomKernels
import LoomTraining

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on a dataset split (calibrated, with optional test-time augmentation).")

    @Argument(help: "Checkpoint file.")
    var checkpoint: String

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

    func run() throws {
        let logger = global.bootstrap(process: "eval")
        try runReportingErrors {
            global.prepareKernels(logger)
            let (run, _) = try RunSetup.restoreRun(checkpoint: checkpoint, overrides: [], dataPath: dataset, logger: logger)
            if uncalibrated { run.state.calibration = [:] }
            let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
            guard let report = try run.evaluate(split: split, executor: executor, tta: tta) else {
                throw CLIError("split '\(split)' is empty for this run (data.validation_fraction is 0?)")
            }
            print(json ? EvaluationPrinter.json(report, checkpoint: checkpoint) : EvaluationPrinter.text(report, problem: run.problem))
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
        if !single.isEmpty {
            table(single, ["accuracy", "balanced_accuracy", "top2_accuracy", "nll", "ece"], mean: true)
        }
        if !multi.isEmpty {
            if !single.isEmpty { out += "\n" }
            table(multi, ["map", "top3_recall", "top5_recall", "bce"], mean: true)
        }
        for (h, head) in problem.heads.enumerated() {
            guard let confusion = r.confusion[h], head.kind == .softmax else { continue }
            let k = head.classes
            out += "\nper-class recall, \(head.name):\n"
            for c in 0..<k {
                let row = confusion[(c * k)..<((c + 1) * k)]
                let total = row.reduce(0, +)
                let recall = total > 0 ? Double(row[row.startIndex + c]) / Double(total) : .nan
                let label = c < head.classNames.count ? head.classNames[c] : "\(c)"
                out += "  " + label.padding(toLength: 16, withPad: " ", startingAt: 0) + MetricText.text(recall) + "  (\(total))\n"
            }
        }
        return out
    }

    static func json(_ r: EvaluationReport, checkpoint: String) -> String {
        var heads: [String: Any] = [:]
        for (h, (name, metrics)) in r.heads.enumerated() {
            var entry: [String: Any] = metrics.mapValues(MetricText.json)
            if let c = r.confusion[h] { entry["confusion"] = c }
            heads[name] = entry
        }
        let object: [String: Any] = ["checkpoint": checkpoint, "split": r.split, "count": r.count,
                                     "loss": MetricText.json(r.loss), "heads": heads]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(data: data, encoding: .utf8) ?? "{}"
    }
}
