// Reads the runs, evaluates their latest checkpoints and writes the page. Keeps the
// evaluations it made, so `loom report --watch` evaluates a checkpoint once, not at every
// rewrite (the file of a checkpoint never changes in place, except by `loom calibrate`,
// which the modification time catches).

import Foundation
import Logging

/// What to evaluate: a split of each run's dataset, or nothing.
public struct ReportOptions: Sendable {
    /// Split of the final evaluation (`test`, `validation`, ...); nil: no evaluation (the page
    /// then shows what metrics.csv logged).
    public var split: String?
    /// Replaces every run's `data.path`.
    public var datasetPath: String?
    /// Samples of the split on the feature map (evenly spaced; 0 = no map).
    public var mapSamples: Int
    /// Head whose classes colour the map (nil: the first softmax head).
    public var mapHead: String?
    public init(split: String? = "test", datasetPath: String? = nil, mapSamples: Int = 500, mapHead: String? = nil) {
        self.split = split; self.datasetPath = datasetPath; self.mapSamples = mapSamples; self.mapHead = mapHead
    }
}

public final class ReportBuilder {
    public let directories: [String]
    public let options: ReportOptions
    private let logger: Logger
    private var evaluations: [String: RunEvaluation] = [:]
    private var embeddings: [String: EmbeddingSet] = [:]

    public init(directories: [String], options: ReportOptions, logger: Logger) {
        self.directories = directories; self.options = options; self.logger = logger
    }

    /// The runs as they are now, each evaluated (once per checkpoint file version).
    public func gather() throws(ReportError) -> [ReportedRun] {
        var runs: [ReportedRun] = []
        for directory in directories {
            let snapshot = try RunSnapshot.read(directory)
            var evaluation: RunEvaluation?
            var embedding: EmbeddingSet?
            if let split = options.split, let path = snapshot.latestPath, let contents = snapshot.latest {
                let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                let key = "\(path)|\(contents.step)|\(modified)|\(split)"
                if let known = evaluations[key] {
                    evaluation = known
                } else {
                    logger.info("evaluating \(path) (step \(contents.step)) on split '\(split)'")
                    let e = try RunEvaluation.evaluate(checkpoint: path, contents: contents, split: split,
                                                       datasetPath: options.datasetPath, logger: logger)
                    evaluations[key] = e
                    evaluation = e
                }
                if options.mapSamples > 0 {
                    if let known = embeddings[key] {
                        embedding = known
                    } else {
                        let set = try EmbeddingSet.compute(checkpoint: path, contents: contents, split: split,
                                                           limit: options.mapSamples, datasetPath: options.datasetPath,
                                                           keepImages: true, logger: logger)
                        embeddings[key] = set
                        embedding = set
                    }
                }
            }
            runs.append(ReportedRun(snapshot: snapshot, evaluation: evaluation, embedding: embedding))
        }
        return runs
    }

    /// Gathers the runs and writes the page to `path` atomically (a browser reloading it
    /// never sees half a page). Returns the runs reported.
    /// With `markdown`, the comparison is also written there as Markdown.
    @discardableResult
    public func write(to path: String, markdown: String? = nil, refreshSeconds: Int? = nil) throws(ReportError) -> [ReportedRun] {
        let runs = try gather()
        let now = Date()
        try Self.write(ReportPage.render(runs, generated: now, refreshSeconds: refreshSeconds, mapHead: options.mapHead), to: path)
        if let markdown { try Self.write(ReportMarkdown.render(runs, generated: now), to: markdown) }
        return runs
    }

    static func write(_ text: String, to path: String) throws(ReportError) {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .writeFailed(path: path, detail: error.localizedDescription)
        }
    }
}
