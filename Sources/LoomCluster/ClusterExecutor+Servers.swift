// The coordinator's half of sharded aggregation (docs/CLUSTER.md, "Shard servers"): with
// `cluster.servers` S > 0, S `loom server` processes each hold a slice of the parameters
// and of the optimizer state (`ParameterSlices`). Workers push each server its slice of a
// piece's gradient and pull its slice of the new weights; what reaches the coordinator is
// the rest of each result (batch statistics, loss and metric sums). Once every piece is in,
// the coordinator tells each server which pieces make the step and its learning rate; each
// sums its slices along the reduction tree and applies the optimizer, and says whether its
// sum was finite. A non-finite slice anywhere ends the run as a non-finite sum does in one
// process.
//
// The coordinator's `TrainingState` holds the weights only as of the last gather (before
// every checkpoint) or the last rollback. A lost server rolls the run back to the last
// checkpoint (`TrainingError.shardServerLost`, handled by `TrainingRun`): the servers get
// their slices of it again and the steps since are computed again, to the same bits.

import Foundation
import Logging
import LoomTraining
import LoomWire

/// One shard server as the coordinator knows it.
final class ServerRecord {
    let peer: PeerID
    let shard: Int
    let endpoint: String
    /// Its CURVE public key (from its hello), handed to workers in the map.
    let publicKey: String?
    let name: String
    var lastHeard: ContinuousClock.Instant
    /// The version of the slice it holds as far as the coordinator knows (nil: not sent yet).
    var version: UInt64?
    /// The answer to the current update (finite or not) or gather.
    var updated: Bool?
    var gathered: ShardMessage?

    init(peer: PeerID, shard: Int, hello: ShardBody, now: ContinuousClock.Instant) {
        self.peer = peer
        self.shard = shard
        self.endpoint = hello.endpoint ?? ""
        self.publicKey = hello.publicKey
        self.name = "\(peer) (\(hello.hostname ?? "?"):\(hello.pid ?? 0), shard \(shard), \(hello.endpoint ?? ""))"
        lastHeard = now
    }
}

extension ClusterExecutor {
    /// The slices of the run's parameters, one per server (nil without servers).
    var slices: ParameterSlices? {
        guard options.servers > 0 else { return nil }
        if let layout = serverLayout, layout.count == options.servers { return layout }
        let p = problem.model.parameters.count
        // With overlap, by buckets: the layers the backward pass finishes last are spread
        // over every server (`ParameterSlices`, docs/CLUSTER.md, "Overlap").
        let buckets = problem.config.cluster.overlap && options.slicesByBuckets
            ? ParameterSlices.buckets(of: problem.model.backwardSpans.map(\.parameters), parameterCount: p, count: options.servers) : []
        let layout = ParameterSlices(parameterCount: p, count: options.servers, buckets: buckets)
        serverLayout = layout
        return layout
    }

    /// Whether all S servers are present and hold `state`'s version.
    func serversReady(_ state: TrainingState) -> Bool {
        servers.count == options.servers && servers.values.allSatisfy { $0.version == UInt64(state.step) }
    }

    // MARK: - Messages from servers

    /// A message from a peer that is a server, or a server's hello; false when `peer` is
    /// neither (the message is a worker's).
    func handleServerMessage(_ message: Message, from peer: PeerID) -> Bool {
        if case .shard(let m) = message, m.kind == .serverHello {
            admitServer(m.body, from: peer)
            return true
        }
        guard let server = servers[peer] else { return false }
        server.lastHeard = clock.now
        switch message {
        case .heartbeat:
            break
        case .shard(let m) where m.kind == .updated:
            guard let job, m.step == job.step else { break }
            server.updated = m.body.finite ?? false
            options.timeline?.record(.updatedIn, step: m.step, server.shard)
            if server.updated == true { server.version = m.weightsVersion }
        case .shard(let m) where m.kind == .state:
            server.gathered = m
        default:
            reject(peer, "unexpected type", "a shard server may not send \(message.type)\(message.shardKind.map { " \($0)" } ?? "")")
        }
        return true
    }

    private func admitServer(_ hello: ShardBody, from peer: PeerID) {
        if servers[peer] != nil { return }
        // A server serves workers with the key pair it connected here with: the key it
        // announces (which workers will demand at its endpoint) must be the one its CURVE
        // handshake with this coordinator proved. Otherwise an admitted key could send
        // workers to a process holding another key.
        if let announced = hello.publicKey, let proven = handlingKey, announced != proven {
            logger.error("refusing shard server \(peer) (\(hello.endpoint ?? "")): its hello announces CURVE key \(announced), but it connected with key \(proven)")
            try? transport.send(.refuse(Refusal(runID: runID, reason: "the server_hello's public_key is not the CURVE key this connection was made with")), to: peer)
            return
        }
        guard let slices else {
            logger.error("refusing shard server \(peer) (\(hello.endpoint ?? "")): this run has no shard servers (cluster.servers 0)")
            try? transport.send(.refuse(Refusal(runID: runID, reason: "this run has no shard servers (cluster.servers is 0)")), to: peer)
            return
        }
        let taken = Set(servers.values.map(\.shard))
        guard let shard = Self.shardOrder(count: slices.count, beside: Self.sameHost(hello.endpoint, transport.endpoint))
            .first(where: { !taken.contains($0) }) else {
            logger.warning("shard server \(peer) (\(hello.endpoint ?? "")) said hello, but all \(slices.count) slices are served: not taken (it may join when one is lost)")
            return
        }
        let record = ServerRecord(peer: peer, shard: shard, hello: hello, now: clock.now)
        servers[peer] = record
        serverMapVersion += 1
        let range = slices.range(shard)
        logger.info("shard server \(record.name) joined: parameters [\(range.lowerBound), \(range.upperBound)); \(servers.count) of \(slices.count) server(s)\(record.publicKey.map { "; workers reach it with CURVE, key \($0)" } ?? "")")
        if record.publicKey == nil && !options.workerKeys.isEmpty {
            logger.warning("shard server \(record.name) serves workers without CURVE (no key in its hello): its link to workers is neither authenticated nor encrypted")
        }
    }

    /// The slices in the order a server that says hello takes the first free one of. Slice
    /// 0 is the one the backward pass's last bucket stays off (`ParameterSlices`): it goes
    /// to a server on the coordinator's host (`beside` true), whose link carries the
    /// coordinator's messages too; a server known to be elsewhere (`beside` false) takes
    /// it last; unknown (nil: not TCP addresses), in order.
    static func shardOrder(count: Int, beside: Bool?) -> [Int] {
        guard beside == false, count > 1 else { return Array(0..<count) }
        return Array(1..<count) + [0]
    }

    /// Whether two TCP endpoints name the same host (`tcp://10.200.0.1:40001` and
    /// `tcp://10.200.0.1:40000`); nil when either is not a TCP endpoint with a host.
    static func sameHost(_ a: String?, _ b: String) -> Bool? {
        func host(_ e: String) -> String? {
            guard e.hasPrefix("tcp://") else { return nil }
            let rest = e.dropFirst(6)
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            let h = String(rest[..<colon])
            return h.isEmpty || h == "*" || h == "0.0.0.0" ? nil : h
        }
        guard let a, let ha = host(a), let hb = host(b) else { return nil }
        return ha == hb
    }

    /// Declares `server` lost: the step under way cannot finish, and the weights it held
    /// since the last checkpoint are gone (the run rolls back).
    func declareServerDead(_ server: ServerRecord, why: String) {
        guard servers.removeValue(forKey: server.peer) != nil else { return }
        serverMapVersion += 1
        let why = gathering.map { "\(why), during the gather of the slices for step \($0)'s checkpoint" } ?? why
        lostServer = "shard server \(server.name) \(why)"
        for other in servers.values { other.version = nil }
        logger.warning("shard server \(server.name) declared lost: \(why); \(servers.count) of \(options.servers) server(s) left")
    }

    /// Throws `.shardServerLost` once after a server was lost.
    func checkServers() throws(TrainingError) {
        guard let why = lostServer else { return }
        lostServer = nil
        // Every worker gets the weights of the version the run goes on from again.
        for worker in workers.values { worker.weightsVersion = nil }
        throw .shardServerLost(why)
    }

    /// Servers silent too long are lost; heartbeats go to each.
    func maintainServers(beat: [[UInt8]]?) {
        let now = clock.now
        for server in servers.values.sorted(by: { $0.shard < $1.shard }) where now - server.lastHeard > options.workerTimeout {
            declareServerDead(server, why: "silent for \(milliseconds(now - server.lastHeard)) ms (cluster.worker_timeout_ms \(milliseconds(options.workerTimeout)))")
        }
        if let beat { for server in servers.values { sendToServer(beat, server) } }
    }

    @discardableResult
    func sendToServer(_ frames: [[UInt8]], _ server: ServerRecord) -> Bool {
        do {
            try transport.send(frames, to: server.peer)
            statistics.bytesSent += frames.reduce(0) { $0 + $1.count }
            return true
        } catch {
            declareServerDead(server, why: "send failed: \(error)")
            return false
        }
    }

    // MARK: - Before a step: every slice served, at the state's version

    /// Waits (servicing the cluster) until all S servers are in, and sends each that does
    /// not hold `state`'s version its slice of `state` (which is then authoritative: the
    /// run's start, a gather, or a rollback).
    func prepareServers(_ state: TrainingState) throws(TrainingError) {
        guard let slices else { return }
        while true {
            try checkServers()
            if control?.stopRequested == true {
                logger.notice("step \(state.step): stop requested while waiting for shard servers")
                throw .stopRequested
            }
            for server in servers.values where server.version != UInt64(state.step) {
                sendState(state, to: server, slices: slices)
            }
            if serversReady(state) { break }
            if clock.now - lastWaitLog >= options.waitLogInterval {
                lastWaitLog = clock.now
                logger.notice("\(servers.count) of \(slices.count) shard server(s) connected: waiting before step \(state.step); start one with `loom server --connect <endpoint> --bind <endpoint>`")
            }
            try pump(timeout: .milliseconds(20), state: state)
            maintain(state: state)
        }
    }

    private func sendState(_ state: TrainingState, to server: ServerRecord, slices: ParameterSlices) {
        let range = slices.range(server.shard)
        let optimizer = state.optimizer.state(inSlice: server.shard, of: slices)
        let names = state.optimizer.slotNames
        var body = ShardBody(kind: .state)
        body.shard = server.shard
        body.shards = slices.count
        body.lower = range.lowerBound
        body.upper = range.upperBound
        body.configYAML = problem.config.yaml
        body.optimizerStep = optimizer.step
        body.slots = names
        // The server admits the workers this coordinator admits (empty: no CURVE here).
        if !options.workerKeys.isEmpty { body.authorizedKeys = options.workerKeys.sorted() }
        body.groups = slices.groups(state.optimizer.groups, inSlice: server.shard).map {
            SliceGroup(lower: $0.range.lowerBound, upper: $0.range.upperBound, lrScale: $0.lrScale,
                       weightDecay: $0.weightDecay, trainsFrom: $0.trainsFromStep)
        }
        let values = slices.gather(state.parameters, slice: server.shard) + names.flatMap { optimizer.slots[$0]! }
        let message = ShardMessage(runID: runID, step: UInt64(state.step), weightsVersion: UInt64(state.step), body: body, values: values)
        if sendToServer(Message.shard(message).encode(), server) {
            server.version = UInt64(state.step)
            logger.debug("shard server \(server.name): slice of version \(state.step) sent")
        }
    }

    /// The map of the servers for workers (who serves which slice, where).
    func serverMapFrames(_ state: TrainingState) -> [[UInt8]] {
        let slices = slices!
        var body = ShardBody(kind: .map)
        body.servers = servers.values.sorted { $0.shard < $1.shard }.map {
            let r = slices.range($0.shard)
            return ServerAddress(endpoint: $0.endpoint, lower: r.lowerBound, upper: r.upperBound, publicKey: $0.publicKey)
        }
        if !slices.buckets.isEmpty { body.buckets = slices.buckets }
        return Message.shard(ShardMessage(runID: runID, weightsVersion: serverMapVersion, body: body)).encode()
    }

    /// Sharded weights for `worker`: the server map when it changed, then a weights message
    /// with the buffers only (the parameters come from the servers). False if it died.
    func ensureShardedWeights(_ worker: WorkerRecord, state: TrainingState) -> Bool {
        let version = UInt64(state.step)
        if worker.weightsVersion == version { return true }
        if worker.serverMap != serverMapVersion {
            guard send(serverMapFrames(state), to: worker) else { return false }
            worker.serverMap = serverMapVersion
        }
        let frames = Message.weights(WeightsUpdate(runID: runID, step: version, weightsVersion: version,
                                                   parameters: [], buffers: state.buffers)).encode()
        guard send(frames, to: worker) else { return false }
        worker.weightsVersion = version
        return true
    }

    /// A worker lost in a sharded run: the blocks it delivered of the running step (unless
    /// every server applied that step) and of the step assigned ahead are computed again.
    /// Its result and its gradient's parts go to different processes on different sockets,
    /// and a worker killed between the two leaves a server waiting for a part that never
    /// comes; the blocks' bits are the same whoever computes them, and a server keeps the
    /// first copy of each part. Returns each job's step and blocks, for the log.
    func reopenDelivered(by peer: PeerID) -> [(step: UInt64, blocks: [ShardBlock])] {
        guard options.servers > 0 else { return [] }
        var reopened: [(step: UInt64, blocks: [ShardBlock])] = []
        if let job, case .train = job.kind,
           !(servers.count == options.servers && servers.values.allSatisfy({ $0.version == job.weightsVersion + 1 })) {
            reopened.append((job.step, job.reopen(deliveredBy: peer)))
        }
        if let early { reopened.append((early.job.step, early.job.reopen(deliveredBy: peer))) }
        return reopened
    }

    // MARK: - After a step: the servers apply it

    /// Tells every server which pieces make `job`'s step and its learning rate, and waits
    /// until each has applied it; throws `.diverged` when a slice's sum was not finite.
    func updateServers(_ job: ClusterJob, plan: StepPlan, state: TrainingState) throws(TrainingError) {
        // With overlap the update went out when the step started (`startServerStep`).
        if !problem.config.cluster.overlap {
            var body = ShardBody(kind: .update)
            body.blocks = job.pieces.values.map(\.block).sorted { $0.start < $1.start }.flatMap { [$0.start, $0.count] }
            body.leaves = plan.shardCount
            body.lrBits = state.schedule.lr(atStep: plan.step).bitPattern
            let frames = Message.shard(ShardMessage(runID: runID, step: job.step, weightsVersion: job.weightsVersion, body: body)).encode()
            for server in servers.values.sorted(by: { $0.shard < $1.shard }) {
                server.updated = nil
                sendToServer(frames, server)
            }
        }
        var started = clock.now
        while true {
            try checkServers()
            if control?.stopRequested == true {
                logger.notice("step \(job.step): stop requested before every server applied it; the step is not taken")
                throw .stopRequested
            }
            if let divergence = job.divergence { throw .diverged(step: plan.step, detail: divergence) }
            let answers = servers.values.sorted { $0.shard < $1.shard }.map(\.updated)
            if answers.count == options.servers, answers.allSatisfy({ $0 != nil }) {
                // Reduced in shard order: one not-finite slice and the step is not taken.
                if let bad = servers.values.filter({ $0.updated == false }).map(\.shard).min() {
                    throw .diverged(step: plan.step, detail: "the gradient of shard \(bad)'s slice holds NaN or Inf")
                }
                return
            }
            // A worker silent past its timeout is declared dead before any server is called
            // late: the blocks it delivered go out again (the servers may lack their
            // gradients), and the servers' wait starts again once they are in.
            maintain(state: state)
            if !job.isComplete {
                try distribute(job, state: state)
                started = clock.now
                if workers.isEmpty && clock.now - lastWaitLog >= options.waitLogInterval {
                    lastWaitLog = clock.now
                    logger.notice("no live worker: waiting for workers (step \(job.step) has blocks to compute again); start one with `loom worker --connect <endpoint>`")
                }
            }
            // Twice the workers' timeout: a worker that delivered its blocks and then went
            // silent (its gradient's parts lost with it) is declared dead, and its blocks
            // computed again, before its servers are called late.
            if clock.now - started > options.workerTimeout * 2 {
                let late = servers.values.filter { $0.updated == nil }.sorted { $0.shard < $1.shard }
                for server in late { declareServerDead(server, why: "did not apply step \(plan.step) within \(milliseconds(options.workerTimeout * 2)) ms") }
                continue
            }
            try pump(timeout: .milliseconds(20), state: state)
        }
    }

    // MARK: - Gather (before a checkpoint)

    /// Brings `state`'s parameters and optimizer slots home from the servers.
    func gather(into state: TrainingState) throws(TrainingError) {
        guard let slices, lastGathered != state.step else { return }
        try checkServers()
        gathering = state.step
        defer { gathering = nil }
        let frames = Message.shard(ShardMessage(runID: runID, weightsVersion: UInt64(state.step), body: ShardBody(kind: .gather))).encode()
        for server in servers.values {
            server.gathered = nil
            sendToServer(frames, server)
        }
        let started = clock.now
        while true {
            try checkServers()
            let ready = servers.values.filter { $0.gathered != nil }
            if servers.count == slices.count && ready.count == slices.count { break }
            if clock.now - started > options.workerTimeout {
                for server in servers.values where server.gathered == nil {
                    declareServerDead(server, why: "did not send its slice within \(milliseconds(options.workerTimeout)) ms")
                }
                continue
            }
            try pump(timeout: .milliseconds(20), state: state)
            maintain(state: state)
        }
        var parameters = state.parameters
        let names = state.optimizer.slotNames
        var slots = Dictionary(uniqueKeysWithValues: names.map { ($0, [Float](repeating: 0, count: parameters.count)) })
        var steps = Set<Int>()
        for server in servers.values {
            let m = server.gathered!
            server.gathered = nil
            let range = slices.range(server.shard)
            let n = range.count
            guard m.weightsVersion == UInt64(state.step), m.body.lower == range.lowerBound, m.body.upper == range.upperBound,
                  m.body.slots == names, m.values.count == n * (1 + names.count) else {
                throw .resultMismatch(step: state.step, "shard server \(server.name) sent a slice of version \(m.weightsVersion), [\(m.body.lower ?? -1), \(m.body.upper ?? -1)), slots \(m.body.slots ?? [])")
            }
            let values = m.values.array
            slices.scatter(values[0..<n], slice: server.shard, into: &parameters)
            for (i, name) in names.enumerated() { slices.scatter(values[(n * (i + 1))..<(n * (i + 2))], slice: server.shard, into: &slots[name]!) }
            steps.insert(m.body.optimizerStep ?? -1)
        }
        guard steps.count == 1, let step = steps.first, step >= 0 else {
            throw .resultMismatch(step: state.step, "the shard servers' optimizers are at steps \(steps.sorted())")
        }
        try state.installGathered(parameters: parameters, optimizer: OptimizerState(slots: slots, step: step))
        lastGathered = state.step
        logger.debug("step \(state.step): weights and optimizer state gathered from \(slices.count) shard server(s)")
    }
}

extension Message {
    /// The kind of a shard message (nil for other types), for logs.
    var shardKind: String? {
        if case .shard(let m) = self { return m.kind.rawValue }
        return nil
    }
}
