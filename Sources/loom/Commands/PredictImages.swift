import Foundation
import Logging
import LoomCheckpoint
import LoomData
import LoomImage
import LoomTraining

/// `loom predict CKPT --image ... | --manifest ...`: image files through the checkpoint's
/// own preprocessing, in batches, printed as a table, JSON or CSV.
struct ImagePrediction {
    let command: PredictCommand
    let training: TrainingRun
    let contents: CheckpointContents
    let logger: Logger
    let stop: CommandStop
    static let batch = 256

    func run() throws {
        let run = training
        guard let text = contents.extraAttributes[PhotoDatasetInfo.preprocessingAttribute] ?? run.dataset.imagePreprocessing,
              let preprocessing = ImagePreprocessing(summary: text) else {
            throw CLIError("\(command.checkpoint) was not trained on a dataset imported from image files (no image_preprocessing); predict on its dataset with --index")
        }
        let shape = run.problem.imageShape
        guard shape == ImageShape(height: preprocessing.size, width: preprocessing.size, channels: 3) else {
            throw CLIError("\(command.checkpoint): the model takes \(shape) images, its preprocessing makes \(preprocessing.size)x\(preprocessing.size)x3")
        }
        var rows: [PhotoRow]
        let file: String
        if let manifest = command.manifest {
            file = manifest
            var root = command.root ?? (manifest as NSString).deletingLastPathComponent
            if root.isEmpty { root = "." }
            rows = try ImageManifestReader.readImageList(path: manifest, root: root)
        } else {
            file = "--image"
            rows = command.image.enumerated().map { PhotoRow(line: $0 + 1, name: $1, path: $1, box: nil, split: "", labels: []) }
        }
        let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
        var decodeSeconds = 0.0, networkSeconds = 0.0
        var results: [(row: PhotoRow, logits: [[Float]])] = []
        let progress = WorkProgress(logger: logger, title: "predict", unit: "images")
        for first in stride(from: 0, to: rows.count, by: Self.batch) {
            if stop.isRequested {
                progress.finish()
                throw stop.exit(logger, "prediction stopped after \(first) of \(rows.count) images; nothing printed")
            }
            let part = Array(rows[first..<min(rows.count, first + Self.batch)])
            let t0 = Date()
            let pixels = try PhotoImporter.prepare(part, preprocessing: preprocessing, file: file)
            let t1 = Date()
            let logits = try executor.predict(images: pixels, count: part.count, state: run.state, tta: command.tta)
            networkSeconds += Date().timeIntervalSince(t1)
            decodeSeconds += t1.timeIntervalSince(t0)
            for (k, row) in part.enumerated() {
                results.append((row, run.problem.losses.indices.map { h in
                    let c = run.problem.losses[h].classes
                    return Array(logits[h][(k * c)..<((k + 1) * c)])
                }))
            }
            progress.update(done: results.count, total: rows.count)
        }
        progress.finish()
        let heads = run.problem.heads
        let ranked = results.map { r in
            (r.row.name, heads.enumerated().map { h, head in
                (head, Self.probabilities(head: head, logits: r.logits[h], temperature: run.state.calibration[head.name] ?? 1))
            })
        }
        if command.json {
            // "logits": the network's raw outputs in class order (before the calibration
            // temperature), to compare with another framework's on the same images.
            let images: [[String: Any]] = zip(ranked, results).map { entry, result in
                ["image": entry.0, "heads": entry.1.enumerated().map { h, headAndP in
                    ["head": headAndP.0.name, "kind": headAndP.0.kind.rawValue,
                     "logits": result.logits[h].map(Double.init),
                     "predictions": headAndP.1.prefix(max(1, command.top)).map { ["class": $0.name, "probability": $0.p] }]
                        as [String: Any]
                }]
            }
            let object: [String: Any] = ["checkpoint": command.checkpoint, "preprocessing": preprocessing.summary, "tta": command.tta,
                                         "images": images]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            print(String(data: data, encoding: .utf8)!)
        } else if command.csv {
            print((["image"] + heads.flatMap { [$0.name, "\($0.name)_probability"] }).map(Self.csvField).joined(separator: ","))
            for (name, perHead) in ranked {
                let fields = [name] + perHead.flatMap { _, p in [p[0].name, String(format: "%.4f", p[0].p)] }
                print(fields.map(Self.csvField).joined(separator: ","))
            }
        } else {
            for (name, perHead) in ranked {
                print(name)
                for (head, p) in perHead {
                    let best = p.prefix(max(1, command.top)).map { "\($0.name) \(String(format: "%.3f", $0.p))" }
                    print("  " + head.name.padding(toLength: 18, withPad: " ", startingAt: 0) + best.joined(separator: ", "))
                }
            }
        }
        let total = decodeSeconds + networkSeconds
        StandardError.write(String(format: "predicted %d images in %.2f s (%.0f images/s; decode %.0f%%, network %.0f%%)\n",
                                   rows.count, total, Double(rows.count) / max(total, 1e-9),
                                   100 * decodeSeconds / max(total, 1e-9), 100 * networkSeconds / max(total, 1e-9)))
    }

    /// Calibrated probabilities of one head, best first: softmax over classes, P(0)/P(1) for
    /// binary heads, each label's own sigmoid for multilabel heads.
    static func probabilities(head: ResolvedHead, logits: [Float], temperature t: Double) -> [(name: String, p: Double)] {
        let z = logits.map { Double($0) / t }
        var names = head.classNames
        let p: [Double]
        switch head.kind {
        case .softmax:
            p = StableMath.softmax(z)
        case .binary:
            let q = StableMath.sigmoid(z[0])
            p = [1 - q, q]
            if names.count != 2 { names = ["0", "1"] }
        case .multilabel:
            p = z.map(StableMath.sigmoid)
        }
        let name = { (c: Int) in c < names.count ? names[c] : "\(c)" }
        return p.indices.sorted { p[$0] > p[$1] }.map { (name($0), p[$0]) }
    }

    static func csvField(_ s: String) -> String {
        s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
