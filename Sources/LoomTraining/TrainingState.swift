// The coordinator's half of a run: it owns the weights, BN running statistics, optimizer,
// learning-rate schedule, sampler and metrics history. It plans each step (`plan`), takes the
// reduced result (`apply`), and converts itself to and from a checkpoint.
//
// Nothing here depends on who computed the result: the single-process trainer and the
// cluster coordinator drive the same object.

import LoomCheckpoint
import LoomConfig
import LoomData
import LoomKernels
import LoomModel

/// What `apply` reports about a finished step.
public struct StepSummary: Sendable {
    public var step: Int
    public var epoch: Int
    public var lr: Double
    /// Weighted total loss (mean over the batch).
    public var loss: Double
    /// Per head: mean loss and accuracy on the step's batch (NaN for a head with nothing
    /// labelled in the batch; it adds nothing to `loss`).
    public var headLoss: [Double]
    public var headAccuracy: [Double]
    /// True when this step ended an epoch.
    public var endsEpoch: Bool
}

public final class TrainingState {
    public let problem: TrainingProblem
    public let sampler: EpochSampler
    public let schedule: LRSchedule
    public let optimizer: Optimizer
    /// Steps in one epoch, and in the run (`max_steps` may stop earlier: `lastStep`).
    public let stepsPerEpoch: Int
    public let plannedSteps: Int
    /// The weights as the optimizer keeps them (float32, checkpointed).
    public var parameters: [Float] { didSet { roundedParameters = nil } }
    public var buffers: [Float]
    /// `computeParameters` of the current `parameters`, made once per version.
    private var roundedParameters: [Float]?

    /// The weights every gradient and prediction is computed with: `parameters`, or with
    /// `cluster.wire: bf16` each rounded to bf16 (what the workers receive). The optimizer
    /// keeps updating the float32 `parameters`, so steps smaller than bf16's precision are
    /// not lost; `loom train --workers 0` computes with the same rounded weights as workers.
    public var computeParameters: [Float] {
        guard problem.config.cluster.wire == .bf16 else { return parameters }
        if let rounded = roundedParameters { return rounded }
        let rounded = BFloat16.rounded(parameters)
        roundedParameters = rounded
        return rounded
    }
    /// Steps completed = the index of the next step to run = the weights' version.
    public private(set) var step: Int = 0
    public var history = MetricsHistory()
    public var calibration: [String: Double] = [:]
    public let validationIndices: [Int]
    /// Which layers are frozen, and until which step (`training.freeze`, `--freeze`).
    public let freezing: FreezePlan
    /// Early stopping and the best checkpoint: what the evaluations so far decided.
    public internal(set) var watch: ValidationWatch
    /// What the last `restore` said about the checkpoint's early-stopping and best records
    /// (dropped because the config now watches another metric).
    public internal(set) var watchRestoreNotes: [String] = []
    /// Per head: labels and targets of the whole train split (the coordinator computes loss
    /// scales from them, and ships them to workers without the dataset).
    private let trainTruth: GroundTruth
    /// Train-loss sums since the last history row (saved in checkpoints, so resumed runs
    /// log exactly the same rows).
    private var pendingLoss = 0.0
    private var pendingSteps = 0

    /// A run whose heads all learn from class labels (`trainLabels`: per head, the labels of
    /// the whole train split).
    public convenience init(problem: TrainingProblem, trainLabels: [[Int32]], trainIndices: [Int],
                            validationIndices: [Int], frozenLayers: Set<String> = []) throws(TrainingError) {
        try self.init(problem: problem, truth: GroundTruth(labels: trainLabels), trainIndices: trainIndices,
                      validationIndices: validationIndices, frozenLayers: frozenLayers)
    }

    /// - Parameter truth: labels and targets of the whole train split (`GroundTruth.read`).
    public init(problem: TrainingProblem, truth: GroundTruth, trainIndices: [Int],
                validationIndices: [Int], frozenLayers: Set<String> = []) throws(TrainingError) {
        let config = problem.config
        self.problem = problem
        self.validationIndices = validationIndices
        guard truth.labels.count == problem.heads.count, truth.targets.count == problem.heads.count else {
            throw .configDoesNotFit("train labels of \(truth.labels.count) heads for \(problem.heads.count) heads")
        }
        for (h, head) in problem.heads.enumerated() where head.usesTargets
            && truth.targets[h].count != truth.count * problem.losses[h].classes {
            throw .labels(head: head.name, kind: head.kind, reason: "learns from targets: \(truth.targets[h].count) target values for \(truth.count) samples of \(problem.losses[h].classes) outputs")
        }
        self.trainTruth = truth
        var oversample: (labels: [Int32], target: OversampleConfig.Target)? = nil
        if let o = config.data.oversample {
            guard let h = config.heads.firstIndex(where: { $0.name == o.head }) else {
                throw .configDoesNotFit("data.oversample.head '\(o.head)' is not one of the heads (\(config.heads.map(\.name).joined(separator: ", ")))")
            }
            guard !problem.heads[h].usesTargets else {
                throw .configDoesNotFit("data.oversample.head '\(o.head)' is a multilabel head: oversampling needs one class per sample (a softmax or binary head)")
            }
            oversample = (truth.labels[h], o.target)
        }
        sampler = EpochSampler(indices: trainIndices, batchSize: config.training.batchSize,
                               seed: config.training.seed, oversample: oversample)
        stepsPerEpoch = sampler.stepsPerEpoch
        guard stepsPerEpoch > 0 else {
            throw .configDoesNotFit("the train split has \(trainIndices.count) samples, fewer than one batch of training.batch_size \(config.training.batchSize)")
        }
        plannedSteps = stepsPerEpoch * config.training.epochs
        let baseLR = LRSchedule.effectiveBaseLR(config: config.optimizer, batchSize: config.training.batchSize)
        do {
            schedule = try LRSchedule(config: config.schedule, baseLR: baseLR, stepsPerEpoch: stepsPerEpoch,
                                      totalSteps: plannedSteps)
        } catch { throw .setting(error) }
        let model = problem.model
        let freezing = try FreezePlan(config: config.training, stepsPerEpoch: stepsPerEpoch, model: model,
                                      alwaysFrozen: frozenLayers)
        self.freezing = freezing
        watch = ValidationWatch(earlyStopping: config.training.earlyStopping, keepBest: config.checkpoint.keepBest)
        let groups = model.parameters.views.map { view in
            ParameterGroup(range: view.offset..<(view.offset + view.count),
                           lrScale: view.isHead ? 1 : config.optimizer.trunkLRScale,
                           weightDecay: !(config.optimizer.noDecayOnBiasAndNorm && view.isBiasOrNorm),
                           trainsFromStep: freezing.trainsFromStep(TrainingState.layerName(of: view.name)))
        }
        do {
            optimizer = try Optimizer(config: config.optimizer, parameterCount: model.parameters.count, groups: groups)
        } catch { throw .setting(error) }
        (parameters, buffers) = model.initialParameters(seed: config.training.seed)
    }

    /// The last step this run will take (exclusive): epochs × steps per epoch, or `max_steps`.
    public var lastStep: Int {
        let maxSteps = problem.config.training.maxSteps
        return maxSteps > 0 ? min(maxSteps, plannedSteps) : plannedSteps
    }

    /// The last step is done, or early stopping ended the run.
    public var isFinished: Bool { step >= lastStep || watch.shouldStop }
    public var epoch: Int { step / stepsPerEpoch }

    /// The plan of step `s` (a pure function of config, seed and s).
    public func plan(step s: Int) -> StepPlan {
        let epoch = s / stepsPerEpoch, inEpoch = s % stepsPerEpoch
        let indices = sampler.batch(epoch: epoch, step: inEpoch)
        let config = problem.config
        var scales: [Float] = []
        let batch = trainTruth.rows(indices)
        for (h, head) in config.heads.enumerated() {
            let n = problem.normalizer(head: h, labels: batch.labels[h], targets: batch.targets[h])
            scales.append(n > 0 ? Float(head.lossWeight / n) : 0)
        }
        return StepPlan(step: s, epoch: epoch, stepInEpoch: inEpoch, sampleIndices: indices,
                        microBatch: config.training.microBatch, headScales: scales)
    }

    /// Labels and targets of train samples `indices` for every head (what a worker without
    /// local data receives).
    public func truth(of indices: ArraySlice<Int>) -> GroundTruth {
        trainTruth.rows(indices)
    }

    /// Applies the reduced result of `plan` (all its micro-shards): optimizer step with the
    /// schedule's lr, BN running statistics, bookkeeping. Refuses a non-finite result
    /// before it touches the weights (ARCHITECTURE.md, invariant 4). With
    /// `optimizerApplied` the optimizer step was taken elsewhere (shard servers, which
    /// refused a non-finite gradient themselves): `result` holds no gradients, and the
    /// parameters and optimizer slots here stay as they are until `installGathered`.
    public func apply(plan: StepPlan, result: ShardResult, optimizerApplied: Bool = false) throws(TrainingError) -> StepSummary {
        guard plan.step == step else { throw .resultMismatch(step: plan.step, "the weights are at step \(step)") }
        guard result.shardCount == plan.shardCount else {
            throw .resultMismatch(step: plan.step, "the result covers \(result.shardCount) of \(plan.shardCount) micro-shards")
        }
        guard result.isFinite else {
            throw .diverged(step: plan.step, detail: "")
        }
        let lr = schedule.lr(atStep: step)
        if !optimizerApplied {
            parameters.withUnsafeMutableBufferPointer { w in
                result.gradients.withUnsafeBufferPointer { g in
                    optimizer.step(weights: w.baseAddress!, gradients: g.baseAddress!, lr: lr)
                }
            }
        }
        // BN: mean over micro-shards of the batch statistics, then the momentum update.
        let inv = 1 / Float(plan.shardCount)
        let stats = result.batchStatistics.map { $0 * inv }
        stats.withUnsafeBufferPointer { s in
            buffers.withUnsafeMutableBufferPointer { b in
                problem.model.applyBatchStatistics(s.baseAddress!, to: b.baseAddress!)
            }
        }
        var total = 0.0
        var headLoss: [Double] = [], headAccuracy: [Double] = []
        for (h, head) in problem.config.heads.enumerated() {
            let n = result.sum(head: h, .normalizer)
            let mean = n > 0 ? result.sum(head: h, .loss) / n : .nan
            headLoss.append(mean)
            if n > 0 { total += head.lossWeight * mean }
            let labelled = result.sum(head: h, .labelled)
            headAccuracy.append(labelled > 0 ? result.sum(head: h, .correct) / labelled : .nan)
        }
        step += 1
        pendingLoss += total
        pendingSteps += 1
        return StepSummary(step: plan.step, epoch: plan.epoch, lr: lr, loss: total, headLoss: headLoss,
                           headAccuracy: headAccuracy, endsEpoch: step % stepsPerEpoch == 0)
    }

    /// Puts the parameters and optimizer state gathered from shard servers in place (the
    /// servers stepped them; `apply(plan:result:optimizerApplied:)` did not).
    public func installGathered(parameters gathered: [Float], optimizer state: OptimizerState) throws(TrainingError) {
        guard gathered.count == parameters.count else {
            throw .weightsShape(parameters: gathered.count, buffers: buffers.count,
                                expectedParameters: parameters.count, expectedBuffers: buffers.count)
        }
        do { try optimizer.restore(state) } catch { throw .resultMismatch(step: step, "gathered optimizer state: \(error)") }
        parameters = gathered
    }

    /// Appends a history row: the mean train loss since the last row, plus `extra` columns
    /// (evaluation results, timing).
    public func recordHistoryRow(extra: [String: Double]) {
        var row = extra
        row["step"] = Double(step)
        row["epoch"] = Double(step) / Double(stepsPerEpoch)
        row["lr"] = schedule.lr(atStep: max(step - 1, 0))
        row["train_loss"] = pendingSteps > 0 ? pendingLoss / Double(pendingSteps) : .nan
        history.append(row)
        pendingLoss = 0
        pendingSteps = 0
    }

    /// `"c1.weight"` -> `"c1"`; `"head.colour.weight"` -> `"head.colour"`.
    static func layerName(of tensor: String) -> String {
        guard let dot = tensor.lastIndex(of: ".") else { return tensor }
        return String(tensor[..<dot])
    }

    /// The train-loss accumulator as exact bits (checkpoints store it).
    var pendingLossBits: UInt64 { pendingLoss.bitPattern }
    var pendingStepCount: Int { pendingSteps }

    func restoreCounters(step: Int, pendingLossBits: UInt64, pendingSteps: Int) {
        self.step = step
        self.pendingLoss = Double(bitPattern: pendingLossBits)
        self.pendingSteps = pendingSteps
    }
}
