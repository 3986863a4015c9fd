// Early assignments (sharded runs with overlap; docs/PROTOCOL.md, "Early assignments";
// docs/SCALING.md, "The start"): the coordinator cuts and assigns step k + 1 while step k
// runs, so that a worker starts k + 1 the moment the servers' slices of version k + 1 are
// whole at it, without waiting for a message the coordinator could send only after step k
// ends (its assignment, and a weights message that carries nothing a training step reads).
//
// The plan of step k + 1 is a function of the step (`TrainingState.plan(step:)`), so it is
// known in advance; the bits are what they are whoever computes a block and whenever (the
// sums' tree order is the plan's). What an early job must get right is the bookkeeping:
// - its pieces are given when it is sent (`owner`, `givenTo`) but their deadline runs from
//   the step's start (`adoptEarly`);
// - a worker declared dead releases its early pieces too (they go to live workers when the
//   step starts, as a dead worker's pieces of a running step do);
// - results for it that come before its step starts (between steps, during an evaluation
//   or a checkpoint) are taken (`trainingJob(for:)`);
// - when the next step is not the one planned (a rollback), the job is dropped and the
//   server map's version bumped: every worker gets the map again before anything else, and
//   a worker drops its early assignments with a new map (the worker's rule; a weights
//   message drops those of older versions, whose steps are over).

import LoomTraining
import LoomWire

/// The next step's job, cut and assigned ahead (`ClusterExecutor.early`).
final class EarlyStep {
    let plan: StepPlan
    let job: ClusterJob

    init(plan: StepPlan, job: ClusterJob) {
        self.plan = plan
        self.job = job
    }
}

extension ClusterExecutor {
    /// Whether this run assigns steps ahead: shard servers with overlap (the weights come
    /// from the servers, so nothing of the coordinator's is needed to start a step).
    var assignsEarly: Bool {
        options.servers > 0 && problem.config.cluster.overlap && options.earlyAssignments
    }

    /// The training job a result of (step, epoch, weights version) is for: the running one,
    /// or the next one assigned ahead.
    func trainingJob(step: UInt64, epoch: UInt32, weightsVersion: UInt64) -> ClusterJob? {
        for candidate in [job, early?.job] {
            guard let candidate, case .train = candidate.kind else { continue }
            if candidate.step == step && candidate.epoch == epoch && candidate.weightsVersion == weightsVersion { return candidate }
        }
        return nil
    }

    /// The training job of `step`: the running one or the next one assigned ahead.
    func trainingJob(step: UInt64) -> ClusterJob? {
        for candidate in [job, early?.job] {
            guard let candidate, case .train = candidate.kind, candidate.step == step else { continue }
            return candidate
        }
        return nil
    }

    /// With step `job` under way (its own assignments and the servers' update sent): cuts
    /// step k + 1 over the live workers that hold the current server map and sends each its
    /// assignments. Nothing when the run ends with this step, or the next job is out already.
    func assignEarly(after job: ClusterJob, state: TrainingState) throws(TrainingError) {
        guard assignsEarly, early == nil, case .train(let plan) = job.kind else { return }
        let next = plan.step + 1
        guard next < state.lastStep, state.step == plan.step else { return }
        // Workers that will have the map of the servers the version comes from.
        let candidates = orderedWorkers.filter { $0.serverMap == serverMapVersion && excluded[$0.peer] == nil }
        guard !candidates.isEmpty else { return }
        let nextPlan = state.plan(step: next)
        let nextJob = ClusterJob(kind: .train(plan: nextPlan), weightsVersion: next)
        nextJob.cut(slots: candidates.map(\.slots))
        var outgoing: [(key: Int, worker: WorkerRecord, frames: [[UInt8]])] = []
        for key in nextJob.unowned {
            let units = nextJob.pieces[key]!.block.count
            guard let worker = candidates.min(by: { nextJob.cost(of: $0.peer, slots: $0.slots, adding: units)
                < nextJob.cost(of: $1.peer, slots: $1.slots, adding: units) }) else { break }
            outgoing.append((key, worker, try assignmentFrames(nextJob, piece: key, for: worker, state: state)))
            nextJob.pieces[key]!.owner = worker.peer
        }
        early = EarlyStep(plan: nextPlan, job: nextJob)
        for (key, worker, frames) in outgoing {
            guard nextJob.pieces[key]!.owner == worker.peer else { continue }
            nextJob.pieces[key]!.givenTo.insert(worker.peer)
            // A failed send declares the worker dead, which releases the piece.
            guard send(frames, to: worker) else { continue }
            statistics.earlyAssignments += 1
            logger.trace("step \(next): block \(nextJob.pieces[key]!.block) to worker \(worker.name) ahead of its step")
        }
    }

    /// The job of `plan`: the one assigned ahead when it is this very step at this version
    /// (its pieces' deadlines start now), or nil after withdrawing whatever was out.
    func adoptEarly(_ plan: StepPlan, weightsVersion: Int) -> ClusterJob? {
        guard let e = early else { return nil }
        early = nil
        if e.plan == plan && e.job.weightsVersion == UInt64(weightsVersion) {
            let now = clock.now
            for key in e.job.pieces.keys.sorted() {
                guard let owner = e.job.pieces[key]!.owner, !e.job.pieces[key]!.done else { continue }
                e.job.pieces[key]!.givenAt = now
                e.job.pieces[key]!.heldUnits = e.job.units(of: owner)
            }
            return e.job
        }
        withdraw(e)
        return nil
    }

    /// Drops the job assigned ahead (the run does not go on with its step): its workers get
    /// the server map again before anything else (`ensureShardedWeights`, or at once from
    /// `sendWithdrawals`), and a worker drops every early assignment with a new map.
    func withdraw(_ e: EarlyStep) {
        let holders = Set(e.job.pieces.values.flatMap(\.givenTo))
        serverMapVersion += 1
        for worker in workers.values where holders.contains(worker.peer) { worker.weightsVersion = nil }
        statistics.earlyWithdrawn += holders.count
        logger.info("step \(e.job.step): the assignments sent ahead to \(holders.count) worker(s) are withdrawn (the run goes on from another step)")
    }

    /// Sends the withdrawal (a weights message of `state`'s version) now to every live
    /// worker whose early assignment was withdrawn and that gets nothing else soon.
    func sendWithdrawals(state: TrainingState) {
        for worker in orderedWorkers where worker.weightsVersion == nil && worker.serverMap != 0 {
            _ = ensureWeights(worker, state: state)
        }
    }
}
