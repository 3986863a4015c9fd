import ArgumentParser
import Foundation
import Logging
import LoomKernels
import LoomTraining

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Print each head's class probabilities (calibrated) for a sample or for image files, best first.",
        discussion: """
        Softmax heads: the K class probabilities; binary heads: P(0) and P(1); multilabel heads: \
        each label's own sigmoid probability (they do not sum to 1), with the sample's targets \
        when the split has them. --json prints the same per head under "predictions", and the \
        head's raw logits (class order, before calibration) under "logits".

        With --image or --manifest, JPEG/PNG files are prepared exactly as the checkpoint's \
        training images were (size, fit, normalisation) and predicted in batches; --csv prints \
        one line per image with each head's best class and its probability.
        """)

    @Argument(help: CheckpointChoice.argumentHelp)
    var checkpoint: String

    @OptionGroup var choice: CheckpointChoice

    @Option(help: "Dataset file (default: the checkpoint config's data.path).")
    var dataset: String?

    @Option(help: "Split to read the sample from.")
    var split: String = "test"

    @Option(help: "Sample index in the split.")
    var index: Int?

    @Option(parsing: .upToNextOption, help: "Image files (JPEG or PNG) to predict: --image a.jpg b.jpg ...")
    var image: [String] = []

    @Option(help: "CSV manifest of images to predict (a path column, optional x1,y1,x2,y2 boxes).")
    var manifest: String?

    @Option(help: "Directory the manifest's paths are relative to (default: the manifest's directory).")
    var root: String?

    @Option(help: "Classes shown per head for image files.")
    var top: Int = 3

    @Flag(help: "Print CSV (image files only).")
    var csv = false

    @Flag(help: "Average the config's test-time augmentation views (data.tta).")
    var tta = false

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func validate() throws { try choice.validate(checkpoint) }

    func run() throws {
        let stop = CommandStop.install()
        let logger = global.bootstrap(process: "predict")
        try runReportingErrors {
            var command = self
            command.checkpoint = try choice.resolve(checkpoint)
            try command.predict(logger, stop: stop)
        }
    }

    /// `run` with CHECKPOINT resolved to a path.
    private func predict(_ logger: Logger, stop: CommandStop) throws {
        do {
            global.prepareKernels(logger)
            let (run, contents) = try RunSetup.restoreRun(checkpoint: checkpoint, overrides: [], dataPath: dataset, logger: logger)
            if !image.isEmpty || manifest != nil {
                guard index == nil else { throw CLIError("--index cannot be combined with --image or --manifest") }
                try ImagePrediction(command: self, training: run, contents: contents, logger: logger, stop: stop).run()
                return
            }
            guard let index else { throw CLIError("give --index I (a dataset sample), --image FILE... or --manifest CSV") }
            guard !csv else { throw CLIError("--csv is for --image and --manifest") }
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
                // The sample's labels or targets when the split has them for this head.
                let known = head.usesTargets ? s.targetNames.contains(head.attribute)
                    : s.labelNames.contains(head.attribute) || (head.kind == .binary && s.targetNames.contains(head.attribute))
                let truth = known ? try GroundTruth.read(s, heads: [head]).rows([index]) : nil
                let entry: (text: String, json: [String: Any])
                if head.usesTargets {
                    entry = Self.multilabel(head: head, temperature: t, logits: z, targets: truth?.targets[0])
                } else {
                    entry = Self.singleLabel(head: head, temperature: t, logits: z, label: truth?.labels[0][0])
                }
                text += entry.text
                // The raw outputs in class order, before the temperature: to compare with another
                // framework's logits on the same sample.
                heads.append(entry.json.merging(["logits": logits[h].map(Double.init)]) { a, _ in a })
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

    /// A softmax or binary head: class probabilities best first, and the true class.
    static func singleLabel(head: ResolvedHead, temperature t: Double, logits z: [Double],
                            label: Int32?) -> (text: String, json: [String: Any]) {
        let probabilities: [Double]
        var names = head.classNames
        if head.kind == .softmax {
            probabilities = StableMath.softmax(z)
        } else {
            let p = StableMath.sigmoid(z[0])
            probabilities = [1 - p, p]
            if names.count != 2 { names = ["0", "1"] }
        }
        let truth = Int(label ?? -1)
        let name = { (c: Int) -> String in c < names.count ? names[c] : "\(c)" }
        let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
        var text = "\n\(head.name) (temperature \(String(format: "%.3f", t)))"
            + (truth >= 0 ? ", true label: \(name(truth))" : label == nil ? ", no labels in this split" : ", not labelled") + "\n"
        for c in ranked {
            text += "  " + name(c).padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%.4f", probabilities[c])
                + (truth == c ? "  <- true" : "") + "\n"
        }
        let json: [String: Any] = [
            "head": head.name, "kind": head.kind.rawValue, "temperature": t,
            "true_label": truth >= 0 ? name(truth) : NSNull(),
            "predictions": ranked.map { ["class": name($0), "probability": probabilities[$0]] },
        ]
        return (text, json)
    }

    /// A multilabel head: each label's sigmoid probability, highest first, with its target
    /// (1 = present, 0 = absent, soft values as stored, NaN = not labelled).
    static func multilabel(head: ResolvedHead, temperature t: Double, logits z: [Double],
                           targets: [Float]?) -> (text: String, json: [String: Any]) {
        let probabilities = z.map(StableMath.sigmoid)
        let name = { (j: Int) -> String in j < head.classNames.count ? head.classNames[j] : "\(j)" }
        let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
        // The positive labels; nil when the split has no targets or none of this sample's
        // labels is known (then the true labels are unknown, not "none").
        let positives = targets.flatMap { row in row.allSatisfy(\.isNaN) ? nil : row.indices.filter { row[$0] > 0.5 }.map(name) }
        var text = "\n\(head.name) (multilabel, temperature \(String(format: "%.3f", t)))"
        if let p = positives {
            text += ", true labels: \(p.isEmpty ? "none" : p.joined(separator: ", "))\n"
        } else {
            text += targets == nil ? ", no targets in this split\n" : ", not labelled\n"
        }
        for j in ranked {
            var mark = ""
            if let v = targets?[j] {
                mark = v.isNaN ? "  (not labelled)" : v == 1 ? "  <- true" : v == 0 ? "" : String(format: "  target %.2f", v)
            }
            text += "  " + name(j).padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: "%.4f", probabilities[j]) + mark + "\n"
        }
        let json: [String: Any] = [
            "head": head.name, "kind": head.kind.rawValue, "temperature": t,
            "true_labels": positives.map { $0 as Any } ?? NSNull(),
            "predictions": ranked.map { j -> [String: Any] in
                var p: [String: Any] = ["class": name(j), "probability": probabilities[j]]
                if let v = targets?[j] { p["target"] = v.isNaN ? NSNull() : Double(v) as Any }
                return p
            },
        ]
        return (text, json)
    }
}
