// Embeddings of a split: each sample's trunk features (what every head reads, the layer
// before the heads' own) and calibrated head probabilities, for `loom embed` (an HDF5
// file), `loom similar` (cosine nearest neighbours) and the report's 2-D map (PCA).

import Foundation
import Logging
import LoomCheckpoint
import LoomConfig
import LoomData
import LoomHDF5
import LoomImage
import LoomTraining

/// One head's calibrated probabilities over the embedded samples.
public struct HeadProbabilities: Sendable {
    public var name: String
    public var kind: HeadConfig.Kind
    public var classNames: [String]
    public var temperature: Double
    /// (N, K): softmax of logits / T (softmax heads), sigmoid of logit / T (binary: K = 1,
    /// P(positive); multilabel: each label's own).
    public var probabilities: [Float]
    /// (N) class labels (-1 = not labelled); empty for multilabel heads or unlabelled splits.
    public var labels: [Int32]
    public var classes: Int { classNames.isEmpty ? probabilities.count / max(1, labels.count) : classNames.count }
}

/// Embedded samples of one split.
public struct EmbeddingSet: Sendable {
    public var checkpoint: String
    public var step: Int
    public var split: String
    /// Sample indices within the split, in row order.
    public var indices: [Int]
    public var featureCount: Int
    /// (N, F) trunk features.
    public var features: [Float]
    public var heads: [HeadProbabilities]
    /// (N, H, W, C) uint8 images, for thumbnails (empty when not kept).
    public var images: [UInt8]
    public var imageShape: ImageShape

    public var count: Int { indices.count }

    /// "sample I" for a row of the split, "query image" for a photo given with `--image`.
    public func sampleName(_ row: Int) -> String { indices[row] < 0 ? "query image" : "sample \(indices[row])" }

    /// Embeds `indices` (default: the whole split; `limit` keeps that many, evenly spaced) of
    /// `split` with the checkpoint's weights and temperatures.
    public static func compute(checkpoint path: String, contents: CheckpointContents, split: String,
                               indices requested: [Int]? = nil, limit: Int? = nil, datasetPath: String? = nil,
                               keepImages: Bool = false, queryImage: String? = nil,
                               logger: Logger) throws(ReportError) -> EmbeddingSet {
        let fail = { (detail: String) in ReportError.evaluation(checkpoint: path, detail: detail) }
        let config: RunConfig
        do {
            config = try ConfigLoader.parse(yaml: contents.config, source: "\(path):/config",
                                            overrides: datasetPath.map { ["data.path=\($0)"] } ?? [], defaultName: "checkpoint")
        } catch { throw .config(checkpoint: path, cause: error) }
        guard FileManager.default.fileExists(atPath: config.data.path) else {
            throw fail("dataset file \(config.data.path) (data.path) does not exist; give it with --dataset")
        }
        do {
            let dataset = try Dataset(path: config.data.path)
            guard dataset.fingerprint == contents.datasetFingerprint else {
                throw fail("the checkpoint was trained on dataset \(contents.datasetFingerprint), but \(config.data.path) is \(dataset.fingerprint)")
            }
            let run = try TrainingRun(config: config, dataset: dataset, logger: logger)
            try run.state.restore(from: contents)
            let s = try dataset.split(split)
            var indices = requested ?? Array(0..<s.count)
            if let bad = indices.first(where: { $0 < 0 || $0 >= s.count }) {
                throw fail("index \(bad) is outside split '\(split)' of \(config.data.path) (0..<\(s.count))")
            }
            if let limit, limit > 0, indices.count > limit {
                indices = (0..<limit).map { indices[$0 * indices.count / limit] }
            }
            guard !indices.isEmpty else { throw fail("split '\(split)' is empty") }
            let executor = LocalExecutor(problem: run.problem, dataset: dataset)
            let (features, logits) = try executor.embed(split: split, indices: indices, state: run.state)
            // Labels where the split has them, for colouring and for checking neighbours.
            let truth = try? GroundTruth.read(s, heads: run.problem.heads).rows(indices)
            var heads: [HeadProbabilities] = []
            for (h, head) in run.problem.heads.enumerated() {
                let t = contents.calibration[head.name].flatMap { $0 > 0 ? $0 : nil } ?? 1
                heads.append(HeadProbabilities(
                    name: head.name, kind: head.kind, classNames: head.classNames, temperature: t,
                    probabilities: probabilities(logits[h], classes: head.kind == .softmax ? head.classes : 1,
                                                 softmax: head.kind == .softmax, temperature: t),
                    labels: head.usesTargets ? [] : truth?.labels[h] ?? []))
            }
            var images: [UInt8] = []
            if keepImages {
                images = [UInt8](repeating: 0, count: indices.count * s.imageShape.elementCount)
                try images.withUnsafeMutableBufferPointer { try s.readImages(indices: indices, into: $0.baseAddress!) }
            }
            var set = EmbeddingSet(checkpoint: path, step: contents.step, split: split, indices: indices,
                                   featureCount: run.problem.model.featureCount, features: features, heads: heads,
                                   images: images, imageShape: s.imageShape)
            if let queryImage {
                // The photo, prepared exactly as the training images were, becomes the last row
                // (index -1, no labels).
                guard let text = contents.extraAttributes[PhotoDatasetInfo.preprocessingAttribute] ?? dataset.imagePreprocessing,
                      let preprocessing = ImagePreprocessing(summary: text) else {
                    throw fail("the checkpoint was not trained on a dataset imported from image files (no image_preprocessing): query by --index")
                }
                guard s.imageShape == ImageShape(height: preprocessing.size, width: preprocessing.size, channels: 3) else {
                    throw fail("the model takes \(s.imageShape) images, the checkpoint's preprocessing makes \(preprocessing.size)x\(preprocessing.size)x3")
                }
                let row = PhotoRow(line: 1, name: queryImage, path: queryImage, box: nil, split: "", labels: [])
                let pixels = try PhotoImporter.prepare([row], preprocessing: preprocessing, file: "--image")
                let (f, l) = try executor.embed(images: pixels, count: 1, state: run.state)
                set.indices.append(-1)
                set.features += f
                for (h, head) in run.problem.heads.enumerated() {
                    set.heads[h].probabilities += probabilities(l[h], classes: head.kind == .softmax ? head.classes : 1,
                                                                softmax: head.kind == .softmax, temperature: set.heads[h].temperature)
                    if !set.heads[h].labels.isEmpty { set.heads[h].labels.append(-1) }
                }
                if keepImages { set.images += pixels }
            }
            return set
        } catch let error as ReportError {
            throw error
        } catch {
            throw fail("\(error)")
        }
    }

    /// Softmax rows of `logits / T` (softmax heads) or element-wise sigmoid (the others).
    static func probabilities(_ logits: [Float], classes k: Int, softmax: Bool, temperature t: Double) -> [Float] {
        guard softmax else { return logits.map { Float(StableMath.sigmoid(Double($0) / t)) } }
        var out = [Float](repeating: 0, count: logits.count)
        for r in 0..<(logits.count / max(k, 1)) {
            let p = StableMath.softmax((0..<k).map { Double(logits[r * k + $0]) / t })
            for j in 0..<k { out[r * k + j] = Float(p[j]) }
        }
        return out
    }

    /// The vectors of `space` per sample: features, or every head's probabilities side by side.
    public func vectors(_ space: EmbeddingSpace) -> (values: [Float], width: Int) {
        switch space {
        case .features: return (features, featureCount)
        case .probabilities:
            let widths = heads.map { $0.probabilities.count / max(count, 1) }
            var out: [Float] = []
            out.reserveCapacity(count * widths.reduce(0, +))
            for r in 0..<count {
                for (h, w) in zip(heads, widths) { out += h.probabilities[(r * w)..<((r + 1) * w)] }
            }
            return (out, widths.reduce(0, +))
        }
    }

    /// Writes the set as HDF5: /indices (N) int64, /features (N, F) float32,
    /// /probabilities/<head> (N, K) float32 with attributes kind, class_names, temperature,
    /// /labels/<head> (N) int32 when known; root attributes checkpoint, step, split.
    public func write(to path: String) throws(ReportError) {
        do {
            let file = try HDF5File.create(path)
            defer { file.close() }
            let root = file.root
            try root.setAttribute("checkpoint", checkpoint)
            try root.setAttribute("step", step)
            try root.setAttribute("split", split)
            try root.setAttribute("features", "trunk output: the layer every head reads")
            try root.write(indices.map(Int64.init), shape: [count], to: "indices")
            try root.write(features, shape: [count, featureCount], to: "features")
            for h in heads {
                let k = h.probabilities.count / max(count, 1)
                try root.write(h.probabilities, shape: [count, k], to: "probabilities/\(h.name)")
                try root.setAttribute("kind", h.kind.rawValue, on: "probabilities/\(h.name)")
                try root.setAttribute("class_names", h.classNames, on: "probabilities/\(h.name)")
                try root.setAttribute("temperature", h.temperature, on: "probabilities/\(h.name)")
                if h.labels.count == count { try root.write(h.labels, shape: [count], to: "labels/\(h.name)") }
            }
            try file.flush()
        } catch {
            throw .writeFailed(path: path, detail: "\(error)")
        }
    }
}

/// Which vectors similarity and maps use.
public enum EmbeddingSpace: String, CaseIterable, Sendable {
    case features, probabilities
}

/// Cosine-similarity neighbours.
public enum Similarity {
    /// The `k` rows most similar to row `query` by cosine similarity (the query itself left
    /// out), most similar first; ties by lower row. Zero vectors have similarity 0.
    public static func nearest(to query: Int, in values: [Float], width: Int, k: Int) -> [(row: Int, similarity: Double)] {
        let n = values.count / max(width, 1)
        func norm(_ r: Int) -> Double { (0..<width).reduce(0.0) { $0 + Double(values[r * width + $1]) * Double(values[r * width + $1]) }.squareRoot() }
        let qn = norm(query)
        var scored: [(Int, Double)] = []
        for r in 0..<n where r != query {
            var dot = 0.0
            for j in 0..<width { dot += Double(values[query * width + j]) * Double(values[r * width + j]) }
            let d = qn * norm(r)
            scored.append((r, d > 0 ? dot / d : 0))
        }
        scored.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        return Array(scored.prefix(max(k, 0))).map { (row: $0.0, similarity: $0.1) }
    }
}
