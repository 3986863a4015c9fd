// A shard server (`loom server`): it owns one contiguous slice of the parameters and of the
// optimizer state (`ParameterSlices`), sums the workers' gradient slices of each step along
// the reduction tree, applies the elementwise optimizer to its slice, and hands the new
// slice to every worker that pulls it (docs/CLUSTER.md, "Shard servers").
//
// It holds nothing that lasts beyond what the coordinator sent it: the coordinator gives it
// its slice (`state`) when it joins and after a rollback, tells it each step which pieces
// make the step and the learning rate (`update`), and gathers the slice back for
// checkpoints (`gather`). Its optimizer over the slice is the run's optimizer with its
// parameter groups intersected with the slice, so the bits are those of one process.
//
// One thread, two sockets: a DEALER to the coordinator and a ROUTER bound for workers.

import Foundation
import Logging
import LoomConfig
import LoomKernels
import LoomTraining
import LoomWire

/// How a shard server joins a coordinator.
public struct ShardServerOptions: Sendable {
    /// The coordinator's endpoint (for logs; `connect` does the connecting).
    public var coordinatorEndpoint: String
    /// The endpoint workers reach this server at (sent to the coordinator, which tells them).
    public var advertisedEndpoint: String
    /// This server's CURVE public key (Z85) when its workers' socket is a CURVE server: sent
    /// in the hello, the coordinator hands it to workers with the endpoint, and a worker
    /// talks to no process at that endpoint that does not hold the matching secret key.
    public var publicKey: String?
    public var exitOnShutdown = false
    /// `--timeline PATH`: when each step event happened here (benchmarks; `StepTimeline`).
    public var timeline: StepTimeline?
    /// Without any message from the coordinator for this long before a run, say hello again.
    public var helloTimeout: Duration = .seconds(10)
    public var hostname = ProcessInfo.processInfo.hostName
    public var pid = Int(ProcessInfo.processInfo.processIdentifier)
    /// Tests only (`loom server --test-fault die-on-gather:N`): called with the count of
    /// gather requests on this connection to the coordinator (1, 2, ...) when one comes,
    /// before it is answered, so that a test can end the process exactly while the
    /// coordinator gathers a checkpoint.
    public var onGather: (@Sendable (Int) -> Void)?

    public init(coordinatorEndpoint: String, advertisedEndpoint: String) {
        self.coordinatorEndpoint = coordinatorEndpoint
        self.advertisedEndpoint = advertisedEndpoint
    }
}

public final class ShardServer {
    public let options: ShardServerOptions
    private let workers: Transport
    private let connect: () throws(TransportError) -> Transport
    private let logger: Logger
    private let stop: StopFlag
    private let clock = ContinuousClock()
    /// Steps applied (all runs), for logs and tests.
    public private(set) var stepsApplied = 0
    /// Bytes of the messages that crossed the workers' socket (all runs): gradient slices in,
    /// weights slices out, header and JSON included. What `cluster.wire` halves.
    public private(set) var gradientBytesIn = 0
    public private(set) var sliceBytesOut = 0
    /// `pull` messages received, and (overlap) gradient pushes that stood for a pull of
    /// the next version (all runs).
    public private(set) var pullsReceived = 0
    public private(set) var pullsByPush = 0

    /// - Parameters:
    ///   - workers: this server's bound side (ROUTER), where workers push and pull.
    ///   - connect: a fresh connected (DEALER) transport to the coordinator per session.
    public init(options: ShardServerOptions, workers: Transport, logger: Logger, stop: StopFlag,
                connect: @escaping () throws(TransportError) -> Transport) {
        self.options = options
        self.workers = workers
        self.connect = connect
        self.logger = logger
        self.stop = stop
    }

    /// Serves coordinators until `stop` is set or (with `exitOnShutdown`) a run ends.
    public func run() throws(ClusterError) {
        while !stop.isSet {
            let coordinator: Transport
            do { coordinator = try connect() } catch { throw .transport(error) }
            let session = ShardServerSession(server: self, coordinator: coordinator)
            let outcome = try session.run()
            coordinator.close()
            stepsApplied += session.stepsApplied
            gradientBytesIn += session.gradientBytesIn
            sliceBytesOut += session.sliceBytesOut
            pullsReceived += session.pullsReceived
            pullsByPush += session.pullsByPush
            if outcome == .exit { return }
            if !stop.isSet { Thread.sleep(forTimeInterval: 0.2) }
        }
        logger.info("shard server stopping (signal)")
    }

    // Used by ShardServerSession.
    var workerTransport: Transport { workers }
    var log: Logger { logger }
    var stopRequested: Bool { stop.isSet }
}

/// One connection of a shard server to a coordinator.
final class ShardServerSession {
    enum Outcome { case reconnect, exit }

    /// What the coordinator's `state` set up.
    struct Slice {
        var runID: UInt64
        var shard: Int
        var range: Range<Int>
        var parameters: [Float]
        var optimizer: Optimizer
        var version: UInt64
        var heartbeat: Duration
        var timeout: Duration
        /// The run's `cluster.wire`: with bf16 the tree rounds every sum of two, gradient
        /// slices come and weights slices go as bfloat16.
        var wire: WireFormat
        /// `cluster.overlap`: gradients come by ranges and each range is updated and sent
        /// back once its sum is complete (ShardServer+Overlap.swift).
        var overlap = false
    }

    /// A step the coordinator asked to apply once every piece's gradient slice is in.
    struct Update {
        var step: UInt64
        var blocks: [ShardBlock]
        var leaves: Int
        var lr: Double
    }

    let server: ShardServer
    private let coordinator: Transport
    private let clock = ContinuousClock()
    var slice: Slice?
    var update: Update?
    /// The step being applied range by range (overlap).
    var ranged = RangedStep()
    /// Gradient slices of the current step, by piece.
    private var gradients: [ShardBlock: FloatValues] = [:]
    /// The slice's parameters before the last step, and their version: a block of that
    /// step given again after its worker was lost goes to a worker that must compute it
    /// with them, while another server still waits for its gradient (docs/PROTOCOL.md,
    /// "A worker lost after its result").
    var previous: (version: UInt64, parameters: [Float])?
    /// Workers whose push of `previous`'s version was answered with the version held.
    private var latePushAnswered: [PeerID: UInt64] = [:]
    /// Workers that asked for a version not reached yet.
    var waitingPulls: [PeerID: UInt64] = [:]
    /// The frames of the slice message of the version held (encoded, with bf16 narrowed,
    /// once per version however many workers pull it).
    private var sliceFrames: (version: UInt64, frames: [[UInt8]])?
    private var lastHeard: ContinuousClock.Instant
    private var lastBeat: ContinuousClock.Instant
    var stepsApplied = 0
    var gradientBytesIn = 0
    var sliceBytesOut = 0
    var pullsReceived = 0
    var pullsByPush = 0
    /// Gather requests on this connection to the coordinator (`ShardServerOptions.onGather`).
    private var gathersReceived = 0
    var logger: Logger { server.log }
    private var endpoint: String { server.options.coordinatorEndpoint }

    init(server: ShardServer, coordinator: Transport) {
        self.server = server
        self.coordinator = coordinator
        lastHeard = clock.now
        lastBeat = clock.now
    }

    private var hello: ShardMessage {
        var body = ShardBody(kind: .serverHello)
        body.endpoint = server.options.advertisedEndpoint
        body.hostname = server.options.hostname
        body.pid = max(server.options.pid, 1)
        body.publicKey = server.options.publicKey
        return ShardMessage(runID: 0, body: body)
    }

    func run() throws(ClusterError) -> Outcome {
        sendToCoordinator(.shard(hello))
        while !server.stopRequested {
            // Both sockets are drained without waiting; with nothing on either, one poll
            // over both sleeps until a message comes or the next heartbeat is due.
            var busy = false
            for _ in 0..<64 {
                let envelope: Envelope?
                do { envelope = try coordinator.receive(timeout: .zero) } catch { throw .transport(error) }
                guard let envelope else { break }
                busy = true
                if let outcome = handleCoordinator(envelope.frames) { return outcome }
            }
            for _ in 0..<256 {
                let envelope: Envelope?
                do { envelope = try server.workerTransport.receive(timeout: .zero) } catch { throw .transport(error) }
                guard let envelope else { break }
                busy = true
                handleWorker(envelope)
            }
            applyArrivedRanges()
            if !busy {
                let beatDue = slice.map { $0.heartbeat - (clock.now - lastBeat) } ?? .milliseconds(50)
                TransportWait.any([coordinator, server.workerTransport],
                                  timeout: max(.milliseconds(1), min(beatDue, .milliseconds(50))))
            }
            let now = clock.now
            let limit = slice?.timeout ?? server.options.helloTimeout
            if now - lastHeard > limit {
                logger.warning("coordinator at \(endpoint) silent for \(milliseconds(now - lastHeard)) ms; reconnecting with a fresh socket")
                return .reconnect
            }
            if let slice, now - lastBeat >= slice.heartbeat {
                lastBeat = now
                sendToCoordinator(.heartbeat(Heartbeat(runID: slice.runID, step: 0, weightsVersion: slice.version)))
            }
        }
        return .exit
    }

    func sendToCoordinator(_ message: Message) {
        do { try coordinator.send(message, to: .coordinator) } catch {
            logger.debug("cannot send \(message.type) to the coordinator yet: \(error)")
        }
    }

    // MARK: - From the coordinator

    private func handleCoordinator(_ frames: [[UInt8]]) -> Outcome? {
        let message: Message
        do { message = try Message.decode(frames, expectedRunID: nil) } catch {
            logger.warning("dropped a message from the coordinator at \(endpoint): \(error)")
            return nil
        }
        if let run = slice?.runID, message.runID != run, !isState(message) {
            logger.debug("dropped a \(message.type) of run \(String(message.runID, radix: 16)) (this server serves run \(String(run, radix: 16)))")
            return nil
        }
        lastHeard = clock.now
        switch message {
        case .shard(let m):
            switch m.kind {
            case .state: take(m)
            case .update: takeUpdate(m)
            case .gather:
                gathersReceived += 1
                server.options.onGather?(gathersReceived)
                sendGathered()
            default: logger.warning("dropped a shard \(m.kind.rawValue) from the coordinator: not a coordinator's message")
            }
        case .refuse(let refusal):
            logger.error("the coordinator at \(endpoint) refused this server: \(refusal.reason)")
            return .exit
        case .shutdown(let shutdown):
            logger.info("coordinator says shutdown: \(shutdown.reason)")
            return server.options.exitOnShutdown ? .exit : .reconnect
        default:
            break
        }
        return nil
    }

    private func isState(_ message: Message) -> Bool {
        if case .shard(let m) = message, m.kind == .state { return true }
        return false
    }

    /// The coordinator's `state`: this server's slice, optimizer and version, from scratch.
    private func take(_ m: ShardMessage) {
        let b = m.body
        guard let shard = b.shard, let lower = b.lower, let upper = b.upper, let yaml = b.configYAML,
              let slotNames = b.slots, let optimizerStep = b.optimizerStep else {
            return logger.warning("dropped a state without its slice, config or optimizer fields")
        }
        let n = upper - lower
        do {
            let config = try ConfigLoader.parse(yaml: yaml, source: "state from \(endpoint)", defaultName: "run")
            let groups = (b.groups ?? []).map {
                ParameterGroup(range: $0.lower..<$0.upper, lrScale: $0.lrScale, weightDecay: $0.weightDecay, trainsFromStep: $0.trainsFrom)
            }
            let optimizer = try Optimizer(config: config.optimizer, parameterCount: n, groups: groups)
            var slots: [String: [Float]] = [:]
            for (i, name) in slotNames.enumerated() { slots[name] = m.values.array((n * (i + 1))..<(n * (i + 2))) }
            try optimizer.restore(OptimizerState(slots: slots, step: optimizerStep))
            let fresh = slice?.runID != m.runID
            slice = Slice(runID: m.runID, shard: shard, range: lower..<upper, parameters: m.values.array(0..<n),
                          optimizer: optimizer, version: m.weightsVersion,
                          heartbeat: .milliseconds(config.cluster.heartbeatMs), timeout: .milliseconds(config.cluster.workerTimeoutMs),
                          wire: config.cluster.wire, overlap: config.cluster.overlap)
            update = nil
            ranged = RangedStep()
            gradients.removeAll()
            previous = nil
            latePushAnswered = [:]
            sliceFrames = nil
            admitWorkers(b.authorizedKeys)
            answerWaitingPulls()
            logger.info("\(fresh ? "serving" : "reset to") run \(String(m.runID, radix: 16)): shard \(shard)\(b.shards.map { " of \($0)" } ?? ""), parameters [\(lower), \(upper)) (\(n)), version \(m.weightsVersion), wire \(config.cluster.wire.rawValue)")
        } catch {
            logger.error("cannot take the slice sent by the coordinator at \(endpoint): \(error)")
        }
    }

    /// A CURVE server admits the workers its coordinator admits: the allow-list comes with
    /// every `state`, over the coordinator's own CURVE link (docs/CLUSTER.md, "Shard servers").
    private func admitWorkers(_ keys: [String]?) {
        guard server.options.publicKey != nil else { return }
        guard let keys, !keys.isEmpty else {
            return logger.warning("the coordinator at \(endpoint) sent no worker keys: no worker can reach this server (does the coordinator run with --keys?)")
        }
        if (server.workerTransport as? ClientAuthorizing)?.authorizeClients(Set(keys)) == true {
            logger.info("CURVE: admitting the \(Set(keys).count) worker key(s) the coordinator at \(endpoint) admits")
        }
    }

    private func takeUpdate(_ m: ShardMessage) {
        guard let slice, let pairs = m.body.blocks, let leaves = m.body.leaves, let bits = m.body.lrBits else { return }
        guard m.weightsVersion == slice.version else {
            return logger.warning("update of step \(m.step) for weights \(m.weightsVersion), this server holds \(slice.version): dropped")
        }
        let blocks = stride(from: 0, to: pairs.count, by: 2).map { ShardBlock(start: pairs[$0], count: pairs[$0 + 1]) }
        update = Update(step: m.step, blocks: blocks, leaves: leaves, lr: Double(bitPattern: bits))
        server.options.timeline?.record(.updateIn, step: m.step)
        if slice.overlap { return startRangedStep() }
        applyIfComplete()
    }

    private func sendGathered() {
        guard let slice else { return }
        let state = slice.optimizer.state
        let names = slice.optimizer.slotNames
        var body = ShardBody(kind: .state)
        body.shard = slice.shard
        body.lower = slice.range.lowerBound
        body.upper = slice.range.upperBound
        body.optimizerStep = state.step
        body.slots = names
        let values = slice.parameters + names.flatMap { state.slots[$0]! }
        sendToCoordinator(.shard(ShardMessage(runID: slice.runID, weightsVersion: slice.version, body: body, values: values)))
    }

    // MARK: - From workers

    private func handleWorker(_ envelope: Envelope) {
        let message: Message
        do { message = try Message.decode(envelope.frames, expectedRunID: slice?.runID) } catch {
            return logger.debug("dropped a message from worker \(envelope.peer): \(error)")
        }
        guard case .shard(let m) = message else { return }
        if m.kind == .pull { pullsReceived += 1 }
        guard let slice, slice.runID == m.runID else {
            // A worker may ask before the coordinator's state is read here (two sockets).
            if m.kind == .pull { waitingPulls[envelope.peer] = m.weightsVersion }
            return
        }
        switch m.kind {
        case .gradient where slice.overlap:
            // A worker pushing its gradient of version k wants k + 1 (docs/PROTOCOL.md, "With
            // overlap"): the push stands for its pull, which then needs no message of its own.
            if m.weightsVersion == slice.version, (waitingPulls[envelope.peer] ?? 0) <= slice.version {
                waitingPulls[envelope.peer] = slice.version + 1
                pullsByPush += 1
                catchUp(envelope.peer, version: slice.version + 1)
            } else if let previous, m.weightsVersion == previous.version, latePushAnswered[envelope.peer] != slice.version {
                // A block of the step this server has applied, computed again after its first
                // worker was lost (docs/PROTOCOL.md, "A worker lost after its result"): its
                // push still stands for a pull of the version that step made, held here whole.
                latePushAnswered[envelope.peer] = slice.version
                sendSlice(to: envelope.peer)
            }
            takeRange(m, from: envelope.peer)
        case .gradient:
            guard let first = m.body.first, let count = m.body.count, m.values.count == slice.range.count else {
                return logger.warning("dropped a gradient slice from worker \(envelope.peer): \(m.values.count) values, this slice holds \(slice.range.count)")
            }
            // A float32 slice in a bf16 run (or the reverse) was not summed along the run's tree.
            guard m.bf16 == (slice.wire == .bf16) else {
                return logger.warning("dropped a gradient slice from worker \(envelope.peer): \(m.bf16 ? "bf16" : "fp32"), the run's cluster.wire is \(slice.wire.rawValue)")
            }
            // A gradient of other weights is of no step this server will apply.
            guard m.weightsVersion == slice.version else { return }
            gradientBytesIn += envelope.frames.reduce(0) { $0 + $1.count }
            server.options.timeline?.record(.gradientIn, step: m.step, slice.range.lowerBound, slice.range.upperBound)
            let block = ShardBlock(start: first, count: count)
            if gradients[block] == nil { gradients[block] = m.values }
            applyIfComplete()
        case .pull:
            if m.weightsVersion == slice.version {
                sendSlice(to: envelope.peer)
            } else if let previous, m.weightsVersion == previous.version {
                sendSlice(to: envelope.peer, previous: previous)
            } else if m.weightsVersion > slice.version {
                waitingPulls[envelope.peer] = m.weightsVersion
                if slice.overlap { catchUp(envelope.peer, version: m.weightsVersion) }
            }
        default:
            logger.debug("dropped a shard \(m.kind.rawValue) from worker \(envelope.peer)")
        }
    }

    /// The slice held (or `previous`, encoded for this one message) to worker `peer`.
    func sendSlice(to peer: PeerID, previous: (version: UInt64, parameters: [Float])? = nil) {
        guard let slice else { return }
        // With bf16 the slice goes rounded to nearest even: the weights `loom train --workers 0`
        // computes with (`TrainingState.computeParameters`); the float32 master stays here.
        func encode(_ version: UInt64, _ values: [Float]) -> [[UInt8]] {
            var body = ShardBody(kind: .slice)
            body.shard = slice.shard
            body.lower = slice.range.lowerBound
            body.upper = slice.range.upperBound
            return Message.shard(ShardMessage(runID: slice.runID, step: version, weightsVersion: version, body: body,
                                              values: values, bf16: slice.wire == .bf16)).encode()
        }
        let frames: [[UInt8]]
        if let previous {
            frames = encode(previous.version, previous.parameters)
        } else if let cached = sliceFrames, cached.version == slice.version {
            frames = cached.frames
        } else {
            frames = encode(slice.version, slice.parameters)
            sliceFrames = (slice.version, frames)
        }
        sliceBytesOut += frames.reduce(0) { $0 + $1.count }
        do { try server.workerTransport.send(frames, to: peer) } catch {
            logger.debug("cannot send weights \(slice.version) to worker \(peer): \(error)")
        }
    }

    // MARK: - The step

    /// Sums the step's gradient slices along the reduction tree and applies the optimizer,
    /// once the update is known and every piece's slice is in; tells the coordinator.
    private func applyIfComplete() {
        guard var slice, let update, update.blocks.allSatisfy({ gradients[$0] != nil }) else { return }
        let n = slice.range.count
        // Summed along the tree as the ranged step sums (`RangedPieces`), each slice read where
        // its message left it: left operand first, as `ShardResult.add` sums whole gradients
        // on the coordinator; with bf16 each sum of two rounded, as `ShardResult.combine`.
        var pieces = RangedPieces(leaves: update.leaves, length: n, bf16: slice.wire == .bf16)
        for (block, values) in gradients { pieces.take(block, range: 0..<n, values: values) }
        let sum = pieces.sum(0..<n)
        self.update = nil
        gradients.removeAll()
        var body = ShardBody(kind: .updated)
        body.shard = slice.shard
        guard let sum else {
            logger.error("step \(update.step): the pieces do not make the reduction tree of \(update.leaves) micro-shards")
            return
        }
        let finite = firstNonFinite(sum) == nil
        body.finite = finite
        if finite {
            // Kept as it is: the step below writes a copy (`self.slice` still holds this one).
            previous = (slice.version, slice.parameters)
            slice.parameters.withUnsafeMutableBufferPointer { w in
                sum.withUnsafeBufferPointer { g in
                    if let wp = w.baseAddress, let gp = g.baseAddress {
                        slice.optimizer.step(weights: wp, gradients: gp, lr: update.lr)
                    }
                }
            }
            if n == 0 { slice.optimizer.step(weights: &slice.parameters, gradients: sum, lr: update.lr) }
            slice.version += 1
            stepsApplied += 1
        }
        self.slice = slice
        sendToCoordinator(.shard(ShardMessage(runID: slice.runID, step: update.step, weightsVersion: slice.version, body: body)))
        server.options.timeline?.record(.updatedSent, step: update.step)
        logger.trace("step \(update.step): slice \(slice.shard) \(finite ? "applied" : "not finite: left as it was")")
        answerWaitingPulls()
    }

    /// Sends the slice to every worker that asked for the version held now.
    func answerWaitingPulls() {
        guard let slice else { return }
        for (peer, version) in waitingPulls where version == slice.version {
            waitingPulls[peer] = nil
            sendSlice(to: peer)
        }
    }
}
