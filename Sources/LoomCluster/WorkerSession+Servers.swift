// A worker's side of sharded aggregation (docs/CLUSTER.md, "Shard servers"): the
// coordinator's server map says where each slice of the parameters lives; the worker pulls
// each slice of a weights version from its server, and pushes each server its slice of
// every gradient it computes. Everything else (assignments, the rest of each result,
// evaluation) stays with the coordinator.

import Foundation
import LoomKernels
import LoomTraining
import LoomWire

/// One shard server as a worker reaches it.
struct ServerLink {
    var address: ServerAddress
    var transport: Transport
    /// The newest slice received, and its weights version.
    var slice: [Float]?
    var version: UInt64?
}

extension WorkerSession {
    /// A new server map: connect to each server (closing the links of an older map).
    func connectServers(_ map: ShardMessage) {
        closeServers()
        for address in map.body.servers ?? [] {
            do {
                servers.append(ServerLink(address: address, transport: try worker.connectServer(address)))
            } catch {
                worker.log.error("cannot connect to shard server \(address.endpoint): \(error)")
            }
        }
        worker.log.info("shard servers: \(servers.map { "\($0.address.endpoint) [\($0.address.lower), \($0.address.upper))" }.joined(separator: ", "))")
    }

    func closeServers() {
        for link in servers { link.transport.close() }
        servers = []
        collecting = nil
    }

    /// A weights message without parameters: take its buffers, and ask every server for its
    /// slice of that version (unless already held).
    func collect(_ update: WeightsUpdate, model: ModelShape) throws(ClusterError) {
        guard update.buffers.count == model.bufferCount else {
            throw .unusableWork(endpoint: worker.options.endpoint, what: "weights version \(update.weightsVersion)", reason: "\(update.buffers.count) buffer values for a model of \(model.bufferCount)")
        }
        buffers = update.buffers
        version = nil
        collecting = update.weightsVersion
        pull(update.weightsVersion)
        assembleIfComplete(parameterCount: model.parameterCount)
    }

    /// Asks every server whose slice of `wanted` is not here for it.
    private func pull(_ wanted: UInt64) {
        guard let run = current else { return }
        let pull = Message.shard(ShardMessage(runID: run.runID, weightsVersion: wanted, body: ShardBody(kind: .pull)))
        for i in servers.indices where servers[i].version != wanted {
            do { try servers[i].transport.send(pull, to: .coordinator) } catch {
                worker.log.debug("cannot ask shard server \(servers[i].address.endpoint) for weights \(wanted) yet: \(error)")
            }
        }
    }

    /// Takes every slice the servers sent so far.
    func drainServers() {
        guard let run = current else { return }
        for i in servers.indices {
            while let envelope = try? servers[i].transport.receive(timeout: .zero) {
                let message: Message
                do { message = try Message.decode(envelope.frames, expectedRunID: run.runID) } catch {
                    worker.log.warning("dropped a message from shard server \(servers[i].address.endpoint): \(error)")
                    continue
                }
                guard case .shard(let m) = message, m.kind == .slice,
                      m.body.lower == servers[i].address.lower, m.body.upper == servers[i].address.upper else { continue }
                // A bf16 run computes with the bf16 rounding of the weights: a float32 slice
                // (or the reverse) is not what `loom train --workers 0` computes with.
                guard m.bf16 == (run.computer.problem.config.cluster.wire == .bf16) else {
                    worker.log.warning("dropped a weights slice from shard server \(servers[i].address.endpoint): \(m.bf16 ? "bf16" : "fp32"), the run's cluster.wire is \(run.computer.problem.config.cluster.wire.rawValue)")
                    continue
                }
                servers[i].slice = m.values
                servers[i].version = m.weightsVersion
            }
        }
        assembleIfComplete(parameterCount: run.computer.problem.model.parameters.count)
    }

    /// The parameters of the version being collected, once every server's slice of it is in.
    private func assembleIfComplete(parameterCount: Int) {
        guard let wanted = collecting, servers.allSatisfy({ $0.version == wanted }) else { return }
        var whole = [Float](repeating: 0, count: parameterCount)
        for link in servers {
            guard let slice = link.slice, link.address.upper <= parameterCount, slice.count == link.address.upper - link.address.lower else { return }
            whole.replaceSubrange(link.address.lower..<link.address.upper, with: slice)
        }
        parameters = whole
        version = wanted
        collecting = nil
    }

    /// Work for weights `wanted` that are being collected: wait for the servers' slices (up
    /// to the run's timeout, asking again every 100 ms, heartbeating meanwhile). False when
    /// they did not come: the work is dropped (it goes to another worker at the step
    /// deadline, and a lost server makes the coordinator roll the run back).
    func awaitSlices(_ wanted: UInt64) -> Bool {
        guard collecting == wanted, let run = current else { return true }
        let started = ContinuousClock.now
        var asked = started
        while collecting == wanted && ContinuousClock.now - started < run.timeout && !worker.stopRequested {
            drainServers()
            if collecting != wanted { break }
            beatIfDue()
            if ContinuousClock.now - asked > .milliseconds(100) {
                asked = ContinuousClock.now
                pull(wanted)
            }
            Thread.sleep(forTimeInterval: 0.0005)
        }
        guard collecting == wanted else { return true }
        let missing = servers.filter { $0.version != wanted }.map(\.address.endpoint)
        worker.log.warning("the slices of weights version \(wanted) did not come from shard server(s) \(missing.joined(separator: ", ")) within \(milliseconds(run.timeout)) ms: work for that version dropped")
        return false
    }

    /// Sends each server its slice of `gradients` (with `bf16`, as bfloat16: a bf16 run's
    /// sums are bf16 values already, so they cross exactly); false (after a log line) when
    /// one could not be sent: then no result goes to the coordinator, and the block goes to
    /// another worker at the step deadline.
    func pushSlices(_ gradients: [Float], for a: Assignment, runID: UInt64, bf16: Bool) -> Bool {
        for link in servers {
            var body = ShardBody(kind: .gradient)
            body.first = Int(a.firstShard)
            body.count = a.shardCount
            let values = Array(gradients[link.address.lower..<link.address.upper])
            let message = Message.shard(ShardMessage(runID: runID, step: a.step, weightsVersion: a.weightsVersion, body: body, values: values,
                                                     bf16: bf16))
            do { try link.transport.send(message, to: .coordinator) } catch {
                worker.log.warning("step \(a.step): cannot push the gradient of block [\(a.firstShard), +\(a.shardCount)) to shard server \(link.address.endpoint): \(error); the result is not sent")
                return false
            }
        }
        return true
    }
}

/// The sizes a weights message must fit.
struct ModelShape {
    var parameterCount: Int
    var bufferCount: Int
}
