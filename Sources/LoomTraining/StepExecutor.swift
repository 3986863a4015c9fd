// Who computes the steps. `TrainingRun` drives a run through this protocol: in one process
// (`LocalExecutor`) or on a cluster of workers (LoomCluster's coordinator). Both must give
// the same bits: the result is defined by `ReductionTree` over the plan's micro-shards.

import LoomKernels

public protocol StepExecutor: AnyObject {
    /// Computes every micro-shard of `plan` with the current weights of `state` (version
    /// `state.step == plan.step`) and returns their sum in `ReductionTree` order over all
    /// `plan.shardCount` micro-shards.
    func execute(plan: StepPlan, state: TrainingState) throws(TrainingError) -> ShardResult

    /// Evaluation-mode logits of samples `indices` of dataset split `split`, per head
    /// (n, K) row-major, in `indices` order. With `tta`, the config's test-time views are
    /// averaged (see `ShardComputer.predict`).
    func predict(split: String, indices: [Int], state: TrainingState, tta: Bool) throws(TrainingError) -> [[Float]]

    /// Called between steps (while the driver checkpoints or logs): service heartbeats.
    func idle()

    /// The kernels the gradients are computed with (recorded in checkpoints); nil while
    /// unknown (a coordinator before its first worker).
    var kernels: KernelIdentity? { get }

    /// Workers admitted and declared lost since this executor started (recorded in the
    /// checkpoints for reports); nil for an executor without workers.
    var workerCounts: (joined: Int, lost: Int)? { get }

    /// True when `execute` has also applied the optimizer step to the parameters where they
    /// live (shard servers): `TrainingState.apply` then leaves the parameters and optimizer
    /// slots alone, and they are brought back by `synchronize`.
    var appliesOptimizer: Bool { get }

    /// Brings `state`'s parameters and optimizer slots up to date before they are read (a
    /// checkpoint): an executor whose servers hold them gathers them here.
    func synchronize(_ state: TrainingState) throws(TrainingError)

    /// Hands back a result of `execute` once it is applied, for its buffers to be reused
    /// (`ShardComputer.recycle`); an executor may ignore it.
    func recycle(_ result: ShardResult)
}

extension StepExecutor {
    /// An executor that computes in this process computes with this process's kernels.
    public var kernels: KernelIdentity? { .current }

    public var workerCounts: (joined: Int, lost: Int)? { nil }

    public var appliesOptimizer: Bool { false }

    public func synchronize(_ state: TrainingState) throws(TrainingError) {}

    public func recycle(_ result: ShardResult) {}
}
