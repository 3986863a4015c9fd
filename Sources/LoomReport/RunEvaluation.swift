// The final evaluation a report shows: the checkpoint's model run once over a split of the
// dataset its config names, scored both without and with the checkpoint's calibration
// temperatures (one prediction pass, two scorings: `Evaluation.score`).

import Foundation
import Logging
import LoomCheckpoint
import LoomConfig
import LoomData
import LoomTraining

/// A checkpoint evaluated on one split.
public struct RunEvaluation: Sendable {
    public var checkpoint: String
    public var step: Int
    /// At T = 1 for every head.
    public var uncalibrated: EvaluationSummary
    /// With the checkpoint's temperatures; nil when it has none.
    public var calibrated: EvaluationSummary?

    /// The evaluation a reader quotes: calibrated when the checkpoint is (as `loom eval`).
    public var final: EvaluationSummary { calibrated ?? uncalibrated }

    /// Evaluates `contents` (read from `path`) on `split` (`test`, `validation` — carved from
    /// the train split as in the run — or any split of the dataset). `datasetPath` replaces
    /// the config's `data.path`.
    public static func evaluate(checkpoint path: String, contents: CheckpointContents, split: String,
                                datasetPath: String? = nil, logger: Logger) throws(ReportError) -> RunEvaluation {
        let config: RunConfig
        do {
            config = try ConfigLoader.parse(yaml: contents.config, source: "\(path):/config",
                                            overrides: datasetPath.map { ["data.path=\($0)"] } ?? [],
                                            defaultName: "checkpoint")
        } catch { throw .config(checkpoint: path, cause: error) }
        let fail = { (detail: String) in ReportError.evaluation(checkpoint: path, detail: detail) }
        guard FileManager.default.fileExists(atPath: config.data.path) else {
            throw fail("dataset file \(config.data.path) (data.path) does not exist; give it with --dataset")
        }
        let dataset: Dataset
        do { dataset = try Dataset(path: config.data.path) } catch { throw fail("\(error)") }
        guard dataset.fingerprint == contents.datasetFingerprint else {
            throw fail("the checkpoint was trained on dataset \(contents.datasetFingerprint), but \(config.data.path) is \(dataset.fingerprint)")
        }
        do {
            let run = try TrainingRun(config: config, dataset: dataset, logger: logger)
            try run.state.restore(from: contents)
            let datasetSplit: String, indices: [Int]
            if split == "validation" {
                guard !run.state.validationIndices.isEmpty else {
                    throw fail("the run has no validation split (data.validation_fraction is 0)")
                }
                datasetSplit = config.data.trainSplit
                indices = run.state.validationIndices
            } else {
                datasetSplit = split
                indices = Array(0..<(try dataset.split(split).count))
            }
            guard !indices.isEmpty else { throw fail("split '\(split)' is empty") }
            let executor = LocalExecutor(problem: run.problem, dataset: dataset)
            let logits = try executor.predict(split: datasetSplit, indices: indices, state: run.state, tta: false)
            let truth = try GroundTruth.read(try dataset.split(datasetSplit), heads: run.problem.heads).rows(indices)
            var plain = try Evaluation.score(split: split, logits: logits, truth: truth, problem: run.problem, temperatures: [:])
            plain.split = split
            var result = RunEvaluation(checkpoint: path, step: contents.step,
                                       uncalibrated: EvaluationSummary(checkpoint: path, report: plain, heads: run.problem.heads))
            if !contents.calibration.isEmpty {
                var scaled = try Evaluation.score(split: split, logits: logits, truth: truth, problem: run.problem,
                                                  temperatures: contents.calibration)
                scaled.split = split
                result.calibrated = EvaluationSummary(checkpoint: path, report: scaled, heads: run.problem.heads)
            }
            return result
        } catch let error as ReportError {
            throw error
        } catch {
            throw fail("\(error)")
        }
    }
}
