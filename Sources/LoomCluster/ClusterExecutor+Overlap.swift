// The coordinator's half of overlap (`cluster.overlap`, docs/CLUSTER.md, "Overlap"): the
// servers' confirmation of a step goes out when the step starts, not when its last result
// is in, so that each server can update a range of its slice as soon as the workers'
// gradients cover it.
//
// What the confirmation must fix is what changes the bits: the learning rate (known from
// the schedule at the step's start) and the reduction tree (its leaves: the step's
// micro-shards, fixed by the plan). Which pieces cover the tree does not change them (a
// node's sum is the same bits whoever computed it, as a whole block or as two halves), so
// the coordinator's later decisions, a piece given to another worker past the step
// deadline or after its worker died, need no second message. The coordinator still decides
// what the step is: it waits for every result (batch statistics, losses) and for every
// server's `updated`, reads the servers' finiteness in shard order, and rolls the run back
// to the last checkpoint when a server is lost, as without overlap.

import LoomTraining
import LoomWire

extension ClusterExecutor {
    /// With overlap and a training step: the `update` of `job` to every server, now.
    func startServerStep(_ job: ClusterJob, state: TrainingState) {
        guard options.servers > 0, problem.config.cluster.overlap, case .train(let plan) = job.kind else { return }
        var body = ShardBody(kind: .update)
        // The whole tree: with overlap the servers sum whatever pieces cover it.
        body.blocks = [0, plan.shardCount]
        body.leaves = plan.shardCount
        body.lrBits = state.schedule.lr(atStep: plan.step).bitPattern
        let frames = Message.shard(ShardMessage(runID: runID, step: job.step, weightsVersion: job.weightsVersion, body: body)).encode()
        for server in servers.values.sorted(by: { $0.shard < $1.shard }) {
            server.updated = nil
            sendToServer(frames, server)
        }
    }
}
