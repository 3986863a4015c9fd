import ArgumentParser
import Foundation
import LoomKernels
import LoomTraining

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Print each head's class probabilities (calibrated) for one sample, best first.")

    @Argument(help: "Checkpoint file.")
    var checkpoint: String

    @Option(help: "Dataset file (default: the checkpoint config's data.path).")
    var dataset: String?

    @Option(help: "Split to read the sample from.")
    var split: String = "test"

    @Option(help: "Sample index in the split.")
    var index: Int

    @Flag(help: "Average the config's test-time augmentation views (data.tta).")
    var tta = false

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.bootstrap(process: "predict")
        try runReportingErrors {
            BLAS.useSingleThread()
            let (run, _) = try RunSetup.restoreRun(checkpoint: checkpoint, overrides: [], dataPath: dataset, logger: logger)
            let s = try run.dataset.split(split)
            guard index >= 0 && index < s.count else {
                throw CLIError("--index \(index) is outside split '\(split)' of \(run.dataset.path) (0..<\(s.count))")
            }
            let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
            let logits = try executor.predict(split: split, indices: [index], state: run.state, tta: tta)
            var heads: [[String: Any]] = []
            var text = "sample \(index) of \(split) (\(run.dataset.path))\(tta ? ", TTA" : "")\n"
            for (h, head) in run.problem.heads.enumerated() {
                let t = run.state.calibration[head.name] ?? 1
                let z = logits[h].map { Double($0) / t }
                let probabilities: [Double]
                var names = head.classNames
                if head.kind == "softmax" {
                    let m = z.max() ?? 0
                    let e = z.map { exp($0 - m) }
                    let sum = e.reduce(0, +)
                    probabilities = e.map { $0 / sum }
                } else {
                    let p = 1 / (1 + exp(-z[0]))
                    probabilities = [1 - p, p]
                    if names.count != 2 { names = ["0", "1"] }
                }
                let truth = try s.labels(head.attribute)[index]
                let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
                text += "\n\(head.name) (temperature \(String(format: "%.3f", t)))\(truth >= 0 ? ", true label: \(names[Int(truth)])" : ", not labelled")\n"
                for c in ranked {
                    let name = c < names.count ? names[c] : "\(c)"
                    text += "  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%.4f", probabilities[c])
                        + (Int(truth) == c ? "  <- true" : "") + "\n"
                }
                heads.append(["head": head.name, "temperature": t, "true_label": truth >= 0 ? names[Int(truth)] : NSNull(),
                              "predictions": ranked.map { ["class": $0 < names.count ? names[$0] : "\($0)", "probability": probabilities[$0]] }])
            }
            if json {
                let object: [String: Any] = ["checkpoint": checkpoint, "split": split, "index": index, "tta": tta, "heads": heads]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
                print(String(data: data, encoding: .utf8)!)
            } else {
                print(text, terminator: "")
            }
        }
    }
}
