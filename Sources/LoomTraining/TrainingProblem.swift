// What a run trains: the config plus everything resolved from the dataset that both the
// coordinator and every worker must agree on (head sizes, class weights), the model built
// from it, each head's loss and the input pipeline.
//
// The coordinator resolves the heads from the dataset (`resolve(config:dataset:)`) and sends
// the result to workers in its welcome message; a worker then builds the same problem with
// `init(config:heads:imageShape:)` without needing the dataset's labels.

import Foundation
import LoomConfig
import LoomData
import LoomKernels
import LoomModel

/// A head with everything the dataset told us about it.
public struct ResolvedHead: Codable, Equatable, Sendable {
    public var name: String
    public var kind: HeadConfig.Kind
    public var attribute: String
    public var classes: Int
    public var classNames: [String]
    /// Resolved class weights for weighted losses (nil = unweighted).
    public var classWeights: [Double]?

    public init(name: String, kind: HeadConfig.Kind, attribute: String, classes: Int,
                classNames: [String], classWeights: [Double]?) {
        self.name = name; self.kind = kind; self.attribute = attribute; self.classes = classes
        self.classNames = classNames; self.classWeights = classWeights
    }

    /// Whether the head learns from dense targets `(N, K)` (multilabel heads) rather than
    /// one class label per sample (softmax and binary heads). See `GroundTruth`.
    public var usesTargets: Bool { kind == .multilabel }
}


public final class TrainingProblem {
    public let config: RunConfig
    public let heads: [ResolvedHead]
    public let model: Model
    public let losses: [HeadLoss]
    public let pipeline: InputPipeline
    public let imageShape: ImageShape

    /// Builds the problem from resolved heads (a worker, or a coordinator after `resolve`).
    public init(config: RunConfig, heads: [ResolvedHead], imageShape: ImageShape) throws(TrainingError) {
        guard heads.count == config.heads.count else {
            throw .configDoesNotFit("\(heads.count) resolved heads for \(config.heads.count) configured heads")
        }
        var headConfigs = config.heads
        var losses: [HeadLoss] = []
        for (i, resolved) in heads.enumerated() {
            headConfigs[i].classes = headConfigs[i].kind == .binary ? 1 : resolved.classes
            do {
                losses.append(try HeadLoss(kind: headConfigs[i].kind, config: headConfigs[i].loss ?? config.loss,
                                           classes: headConfigs[i].classes, classWeights: resolved.classWeights,
                                           head: resolved.name))
            } catch {
                throw .setting(error)
            }
        }
        var modelConfig = config.model
        if modelConfig.input.isEmpty {
            modelConfig.input = [imageShape.channels, imageShape.height, imageShape.width]
        }
        guard modelConfig.input == [imageShape.channels, imageShape.height, imageShape.width] else {
            throw .configDoesNotFit("model.input \(modelConfig.input) does not match the dataset's images (C,H,W) = [\(imageShape.channels), \(imageShape.height), \(imageShape.width)]")
        }
        do {
            model = try Model(model: modelConfig, heads: headConfigs)
            // Before a `ShardComputer` allocates it: a micro-batch the model cannot hold in
            // memory is an error naming the workspace's size, not an abort.
            try model.checkWorkspace(batch: config.training.microBatch)
        } catch {
            throw .model(error)
        }
        do {
            pipeline = try InputPipeline(config: config.data, imageShape: imageShape)
        } catch {
            throw .dataset(error)
        }
        self.config = config
        self.heads = heads
        self.losses = losses
        self.imageShape = imageShape
    }

    /// Resolves the heads against the dataset: class counts and names from its attributes,
    /// class weights from the labels of `trainIndices` of the train split.
    public static func resolve(config: RunConfig, dataset: Dataset,
                               trainIndices: [Int]) throws(TrainingError) -> TrainingProblem {
        let split: DatasetSplit
        do { split = try dataset.split(config.data.trainSplit) } catch { throw .dataset(error) }
        var resolved: [ResolvedHead] = []
        for head in config.heads {
            guard let info = dataset.attributes.first(where: { $0.name == head.attribute }) else {
                let known = dataset.attributes.map(\.name).joined(separator: ", ")
                throw .configDoesNotFit("head '\(head.name)': the dataset \(dataset.path) has no attribute '\(head.attribute)' (it has: \(known))")
            }
            var classes = head.kind == .binary ? max(1, info.classNames.count) : info.classNames.count
            if head.kind == .multilabel {
                classes = try multilabelWidth(head: head, info: info, split: split)
            }
            if head.classes != 0 && head.kind != .binary && head.classes != classes {
                throw .configDoesNotFit("head '\(head.name)': config says \(head.classes) classes, the dataset attribute '\(head.attribute)' has \(classes)")
            }
            var weights: [Double]? = nil
            let loss = head.loss ?? config.loss
            // Multilabel heads have no class per sample to weigh (RunConfig refuses head-level
            // class_weights on them; an inherited top-level setting is ignored).
            if loss.classWeights != .none && head.kind != .multilabel {
                do {
                    // Through GroundTruth: a binary head may read its labels from a target.
                    let probe = ResolvedHead(name: head.name, kind: head.kind, attribute: head.attribute,
                                             classes: classes, classNames: info.classNames, classWeights: nil)
                    let all = try GroundTruth.read(split, heads: [probe]).labels[0]
                    let labels = trainIndices.map { all[$0] }
                    weights = try ClassWeights.compute(labels: labels, classes: classes, method: loss.classWeights)
                } catch let error as TrainingError {
                    throw error
                } catch {
                    throw .labels(head: head.name, kind: head.kind, reason: "\(error)")
                }
            }
            let names = head.kind == .multilabel && info.classNames.isEmpty ? (0..<classes).map { "\($0)" } : info.classNames
            resolved.append(ResolvedHead(name: head.name, kind: head.kind, attribute: head.attribute,
                                         classes: classes, classNames: names, classWeights: weights))
        }
        return try TrainingProblem(config: config, heads: resolved, imageShape: split.imageShape)
    }

    /// K of a multilabel head: the columns of `/<train split>/targets/<attribute>`, which
    /// must equal the attribute's class names when it declares any.
    private static func multilabelWidth(head: HeadConfig, info: AttributeInfo,
                                        split: DatasetSplit) throws(TrainingError) -> Int {
        let object = "/\(split.name)/targets/\(head.attribute)"
        guard let k = split.targetWidth(head.attribute) else {
            throw .labels(head: head.name, kind: .multilabel, reason: "\(split.path) has no \(object) (float32 [N, K]);"
                                + " split '\(split.name)' has targets [\(split.targetNames.joined(separator: ", "))]"
                                + " and labels [\(split.labelNames.joined(separator: ", "))]")
        }
        guard info.classNames.isEmpty || info.classNames.count == k else {
            throw .labels(head: head.name, kind: .multilabel, reason: "\(split.path) \(object) has K = \(k) columns but"
                                + " /attributes/\(head.attribute) declares \(info.classNames.count) class_names")
        }
        return k
    }

    /// A problem without a dataset, for benchmarks: the model's own input shape and every
    /// head with its configured class count (10 when the config leaves it to the dataset).
    public static func synthetic(config: RunConfig) throws(TrainingError) -> TrainingProblem {
        let input = config.model.input
        guard input.count == 3 else { throw .configDoesNotFit("model.input must be [C, H, W], got \(input)") }
        let heads = config.heads.map { h in
            let k = h.classes > 0 ? h.classes : 10
            return ResolvedHead(name: h.name, kind: h.kind, attribute: h.attribute, classes: k,
                                classNames: (0..<k).map { "class\($0)" }, classWeights: nil)
        }
        return try TrainingProblem(config: config, heads: heads,
                                   imageShape: ImageShape(height: input[1], width: input[2], channels: input[0]))
    }

    /// Whether training samples of `epoch` (0-based) are augmented: every epoch but the last
    /// `data.augment.plain_last_epochs` of `training.epochs`. A pure function of the config
    /// and the epoch, so every worker and a resumed run agree.
    public func augments(epoch: Int) -> Bool {
        epoch < config.training.epochs - config.data.augment.plainLastEpochs
    }

    /// Total outputs over all heads (the width of concatenated logits).
    public var totalOutputs: Int { losses.reduce(0) { $0 + $1.classes } }

    /// Loss normaliser of head `h` over a global batch: what PyTorch's mean divides by.
    /// `targets` are the batch's `(n, K)` targets of a head that `usesTargets` (its labels
    /// are then ignored): the normaliser counts their labelled (non-NaN) elements.
    public func normalizer(head h: Int, labels: [Int32], targets: [Float] = []) -> Double {
        let loss = losses[h]
        if heads[h].usesTargets {
            return Double(targets.reduce(0) { $1.isNaN ? $0 : $0 + 1 })
        }
        switch loss.formula {
        case let .softmaxCrossEntropy(_, weights), let .softmaxFocal(_, _, weights):
            if let w = weights { return labels.reduce(0.0) { $1 >= 0 ? $0 + w[Int($1)] : $0 } }
            return Double(labels.reduce(0) { $1 >= 0 ? $0 + 1 : $0 })
        case .binaryCrossEntropy, .sigmoidFocal, .meanSquaredError:
            return Double(labels.reduce(0) { $1 >= 0 ? $0 + 1 : $0 } * loss.classes)
        }
    }
}
