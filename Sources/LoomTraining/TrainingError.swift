// Why a run could not be set up, go on, or be saved. Each case says what happened and keeps
// the error of the layer below (dataset, model, checkpoint...) as its cause; only the CLI
// turns it into text and an exit status.

import LoomCheckpoint
import LoomConfig
import LoomData
import LoomModel

public enum TrainingError: Error, CustomStringConvertible {
    /// The dataset could not be opened or read.
    case dataset(DatasetError)
    /// A head's labels or targets in the dataset cannot be trained on.
    case labels(head: String, kind: HeadConfig.Kind, reason: String)
    /// A head's labels or targets could not be read from the dataset.
    case headData(head: String, kind: HeadConfig.Kind, cause: DatasetError)
    /// The config asks for something the dataset or the model does not have (an attribute,
    /// a class count, an input shape, a layer to freeze, enough samples for a batch).
    case configDoesNotFit(String)
    /// A loss, optimizer or schedule refused its section of the config.
    case setting(any Error & CustomStringConvertible)
    /// The model could not be built or run.
    case model(ModelError)
    /// The checkpoint to resume or initialise from does not fit this run.
    case checkpointDoesNotFit(path: String?, reason: String)
    /// Writing the checkpoint of `step` failed; training stopped, the earlier checkpoints
    /// are intact.
    case checkpointWrite(step: Int, cause: CheckpointError)
    /// Reading or writing the run directory (checkpoints, metrics.csv) failed.
    case runDirectory(CheckpointError)
    /// The run directory itself cannot be made or cleaned.
    case fileSystem(path: String, reason: String)
    /// Work handed to a `ShardComputer` does not fit it or its data.
    case workMismatch(block: ShardBlock, step: Int, String)
    /// Weights of another model's size.
    case weightsShape(parameters: Int, buffers: Int, expectedParameters: Int, expectedBuffers: Int)
    /// An executor returned a result that is not the step asked for.
    case resultMismatch(step: Int, String)
    /// The step's gradient or batch statistics hold NaN or Inf: the loss diverged. Nothing
    /// was applied; the last checkpoint stands.
    case diverged(step: Int, detail: String)
    /// A stop was requested (SIGTERM, SIGINT) while an executor waited for the step's or an
    /// evaluation's results; nothing of it was applied. `TrainingRun.run` checkpoints and
    /// returns `.stopped`.
    case stopRequested
    /// A step's results could not be turned into metrics.
    case metrics(MetricsError)
    /// The cluster executing the steps failed (the samples for a worker could not be read,
    /// a transport failed); `what` says which.
    case cluster(what: String, cause: (any Error)?)
    /// A shard server that holds a slice of the weights was lost (docs/CLUSTER.md, "Shard
    /// servers"): the run rolls back to its last checkpoint and goes on.
    case shardServerLost(String)

    public var description: String {
        switch self {
        case .dataset(let error):
            return "\(error)"
        case .labels(let head, let kind, let reason):
            return "head '\(head)' (\(kind.rawValue)): \(reason)"
        case .headData(let head, let kind, let cause):
            return "head '\(head)' (\(kind.rawValue)): \(cause)"
        case .configDoesNotFit(let reason):
            return reason
        case .setting(let error):
            return "\(error)"
        case .model(let error):
            return "\(error)"
        case .checkpointDoesNotFit(let path, let reason):
            return path.map { "checkpoint \($0): \(reason)" } ?? "checkpoint: \(reason)"
        case .checkpointWrite(let step, let cause):
            return "checkpoint at step \(step) failed, training stopped (the previous checkpoints are intact): \(cause)"
        case .runDirectory(let error):
            return "\(error)"
        case .fileSystem(let path, let reason):
            return "\(path): \(reason)"
        case .workMismatch(let block, let step, let reason):
            return "block \(block) of step \(step): \(reason)"
        case .weightsShape(let p, let b, let ep, let eb):
            return "weights of \(p)+\(b) values for a model of \(ep)+\(eb)"
        case .resultMismatch(let step, let reason):
            return "step \(step): \(reason)"
        case .diverged(let step, let detail):
            return "step \(step): the gradient or batch statistics contain NaN or Inf (loss diverged?); weights left unchanged, last checkpoint kept" + (detail.isEmpty ? "" : ": \(detail)")
        case .stopRequested:
            return "stopped on request before the step's results were in"
        case .metrics(let error):
            return "\(error)"
        case .shardServerLost(let why):
            return "a shard server was lost: \(why)"
        case .cluster(let what, let cause):
            return cause.map { "\(what): \($0)" } ?? what
        }
    }
}
