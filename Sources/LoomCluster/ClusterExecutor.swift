// The coordinator: a `StepExecutor` whose steps are computed by workers over a `Transport`.
//
// One event loop, driven by the caller's thread: `execute` and `predict` loop on
// `transport.receive(timeout:)` until every piece of their job is in, servicing hellos,
// heartbeats and liveness on the way; `idle` does one round of that between steps. Nothing
// a peer sends can block the loop or stop it: a message that breaks a rule is dropped,
// logged with the peer and counted (`rejects`).

import Foundation
import Logging
import LoomConfig
import LoomKernels
import LoomTraining
import LoomWire

/// Timing of the coordinator's membership protocol.
public struct ClusterOptions: Sendable {
    /// How often heartbeats go to each worker.
    public var heartbeatInterval: Duration
    /// Silence after which a worker is declared dead and its work reassigned.
    public var workerTimeout: Duration
    /// How often "waiting for workers" is logged while there are none.
    public var waitLogInterval: Duration = .seconds(5)
    /// Samples per evaluation piece (rounded up to a multiple of the micro-batch).
    public var evaluationChunk = 512
    /// Offer workers on this machine weights and gradients through shared memory.
    public var sharedMemory = true
    /// Admit workers whose kernels differ from the run's (with a warning): the run is then
    /// reproducible only to rounding.
    public var allowMixedKernels = false
    /// How often a line sums up the bad messages not logged one by one (`RejectLog`).
    public var rejectSummaryInterval: Duration = .seconds(60)
    /// `cluster.step_deadline_ms`: how long a worker may hold a piece (nil: automatic, a
    /// multiple of the recent time per unit of work; `StepDeadline`).
    public var stepDeadline: Duration?
    /// `cluster.step_deadline_floor_ms`: the automatic deadline is never shorter.
    public var stepDeadlineFloor: Duration = .seconds(10)
    /// `cluster.audit`: the share of steps whose blocks are all computed twice and compared
    /// (0: none, and no gradient bound check either; `GradientAudit`).
    public var audit = 0.0
    /// The key of the audit's draw of steps: nil (the default) draws a secret one when the
    /// coordinator starts. It is never sent; a test may fix it to make the draw repeatable.
    public var auditKey: UInt64?
    /// `cluster.servers`: shard servers holding the parameters and optimizer state in
    /// slices (0: the coordinator sums and applies everything; ClusterExecutor+Servers.swift).
    public var servers = 0
    /// When each step event happened here (benchmarks; `StepTimeline`).
    public var timeline: StepTimeline?
    /// With overlap, cut the servers' slices by buckets (`ParameterSlices`); false: one
    /// contiguous slice per server, for comparisons (`loom bench --hosts --buckets off`).
    public var slicesByBuckets = true
    /// With CURVE: the worker keys (Z85) this coordinator admits, handed to every shard
    /// server with its slice so that it admits the same workers (empty: no CURVE).
    public var workerKeys: Set<String> = []
    /// With shard servers and overlap, assign step k + 1 while step k runs
    /// (ClusterExecutor+Early.swift); false: at the step's start, for comparisons
    /// (`loom bench --hosts --early off`).
    public var earlyAssignments = true

    public init(heartbeatInterval: Duration, workerTimeout: Duration) {
        self.heartbeatInterval = heartbeatInterval
        self.workerTimeout = workerTimeout
    }

    /// `cluster.heartbeat_ms` and `cluster.worker_timeout_ms` of a run config.
    public init(config: ClusterConfig) {
        self.init(heartbeatInterval: .milliseconds(config.heartbeatMs), workerTimeout: .milliseconds(config.workerTimeoutMs))
        sharedMemory = config.sharedMemory
        stepDeadline = config.stepDeadlineMs > 0 ? .milliseconds(config.stepDeadlineMs) : nil
        stepDeadlineFloor = .milliseconds(config.stepDeadlineFloorMs)
        audit = config.audit
        servers = config.servers
    }
}

public final class ClusterExecutor: StepExecutor {
    /// The run id on the wire (non-zero).
    public let runID: UInt64
    public let options: ClusterOptions
    /// Messages dropped so far, by reason.
    public internal(set) var rejects = RejectCounts()
    public internal(set) var statistics = ClusterStatistics()

    let transport: Transport
    let problem: TrainingProblem
    let source: SampleSource
    let logger: Logger
    let clock = ContinuousClock()
    let welcomeFrames: [[UInt8]]
    var workers: [PeerID: WorkerRecord] = [:]
    /// The kernels of the run's workers: those of the first worker admitted.
    public internal(set) var runKernels: KernelIdentity?
    /// Hellos of workers declared dead, in case they speak again.
    var departed: [PeerID: Hello] = [:]
    var nextSerial = 0
    var job: ClusterJob?
    var lastHeartbeat: ContinuousClock.Instant
    var lastWaitLog: ContinuousClock.Instant
    /// Encoded weights of one version, shared by every worker that needs them.
    var weightsCache: (version: UInt64, frames: [[UInt8]])?
    /// The weights region (nil: not offered, or the run is shut down): version v goes to
    /// slot v % 2 under tag v + 1.
    var sharedWeights: SharedRegion?
    /// The small weights message naming the slot of one version, once that version is in it.
    var sharedWeightsCache: (version: UInt64, frames: [[UInt8]])?
    /// Which rejects are logged, per source address and in total (the rest are counted
    /// and summed up once per `options.rejectSummaryInterval`, so a flood cannot flood the log).
    lazy var rejectLog = RejectLog(window: options.rejectSummaryInterval, now: clock.now)
    /// Peers whose heartbeats came without a hello (noted once each; see `strangerHeartbeat`).
    var heartbeatStrangers: Set<PeerID> = []
    /// The address of the envelope being handled, when the transport knows it.
    var handlingAddress: String?
    /// The CURVE key the envelope being handled came with (`Envelope.peerKey`).
    var handlingKey: String?
    /// The per-piece deadline and the recent times it is a multiple of.
    var deadline: StepDeadline
    /// The recent largest gradient magnitudes per micro-shard (the bound check).
    var bound = GradientBound()
    /// Workers put out of the run (an audit named them, or they missed deadlines), and why.
    public internal(set) var excluded: [PeerID: String] = [:]
    /// The secret key of the audit's draw of steps (`ClusterOptions.auditKey`).
    let auditKey: UInt64
    /// Computes a block in this process when an audit needs it and no worker can.
    lazy var localComputer = ShardComputer(problem: problem, microBatch: problem.config.training.microBatch)
    /// Shard servers by peer (`options.servers` > 0), and the version of their map that
    /// workers are sent when it changes.
    var servers: [PeerID: ServerRecord] = [:]
    var serverMapVersion: UInt64 = 1
    /// The slices' layout, computed once (`slices`).
    var serverLayout: ParameterSlices?
    /// Why a server was lost, until `checkServers` turns it into a rollback.
    var lostServer: String?
    /// The step whose weights were last gathered from the servers into the state.
    var lastGathered = -1
    /// The step whose checkpoint the slices are being gathered for (nil: no gather under way),
    /// so that a server lost then is said to be lost during the gather.
    var gathering: Int?
    /// The next step's job, assigned while the current one runs (ClusterExecutor+Early.swift).
    var early: EarlyStep?

    /// - Parameters:
    ///   - transport: the bound coordinator side (ROUTER).
    ///   - runID: the run's id; 0 is replaced by 1 (0 is reserved for hellos).
    ///   - problem: the run's problem; its config YAML and resolved heads go to workers.
    ///   - source: images for workers without local data and for evaluation, and the
    ///     fingerprint a worker's own file must have.
    public init(transport: Transport, runID: UInt64, problem: TrainingProblem, source: SampleSource,
                logger: Logger, options: ClusterOptions) {
        self.transport = transport
        self.runID = runID == 0 ? 1 : runID
        self.problem = problem
        self.source = source
        self.logger = logger
        var options = options
        if options.servers > 0 {
            // Gradients go to the servers, not here: nothing to compare or to sum in place.
            if options.audit > 0 { logger.notice("cluster.audit \(options.audit) is not applied with shard servers (cluster.servers \(options.servers)): gradients go to the servers, not to the coordinator") }
            options.audit = 0
            options.sharedMemory = false
        }
        self.options = options
        deadline = StepDeadline(fixed: options.stepDeadline, floor: options.stepDeadlineFloor)
        auditKey = options.auditKey ?? GradientAudit.secretKey()
        let description = RunDescription(problem: problem, datasetFingerprint: source.fingerprint)
        var region: SharedRegion?
        if options.sharedMemory {
            do {
                region = try SharedRegion.create(kind: "weights", slotCount: 2, slotBytes: 4 * problem.model.parameters.count)
            } catch {
                logger.notice("no shared memory for local workers (\(error)): weights and gradients go over the socket")
            }
        }
        sharedWeights = region
        welcomeFrames = Message.welcome(Welcome(runID: self.runID, configYAML: problem.config.yaml,
                                                runJSON: description.json(),
                                                sharedWeightsPath: region?.path ?? "")).encode()
        lastHeartbeat = clock.now
        lastWaitLog = clock.now
    }

    /// The workers connected now, in join order.
    public var liveWorkers: [WorkerSummary] { orderedWorkers.map(\.summary) }

    var orderedWorkers: [WorkerRecord] { workers.values.sorted { $0.serial < $1.serial } }

    // MARK: - StepExecutor

    public func execute(plan: StepPlan, state: TrainingState) throws(TrainingError) -> ShardResult {
        guard plan.step == state.step else {
            throw .resultMismatch(step: plan.step, "planned while the weights are version \(state.step)")
        }
        let job = adoptEarly(plan, weightsVersion: state.step) ?? ClusterJob(kind: .train(plan: plan), weightsVersion: state.step)
        try run(job, state: state)
        guard let result = job.reduced else { throw .resultMismatch(step: plan.step, "finished without covering every micro-shard") }
        if options.servers > 0 {
            self.job = job
            defer { self.job = nil }
            try updateServers(job, plan: plan, state: state)
        }
        statistics.stepsExecuted += 1
        options.timeline?.record(.stepEnd, step: UInt64(plan.step))
        return result
    }

    public func predict(split: String, indices: [Int], state: TrainingState, tta: Bool) throws(TrainingError) -> [[Float]] {
        let m = problem.config.training.microBatch
        let chunk = max(m, (options.evaluationChunk + m - 1) / m * m)
        let job = ClusterJob(kind: .evaluate(split: split, indices: indices, chunk: chunk, tta: tta),
                             weightsVersion: state.step)
        var out = problem.losses.map { [Float](repeating: 0, count: indices.count * $0.classes) }
        guard !indices.isEmpty else { return out }
        try run(job, state: state)
        // Each chunk's logits hold every head one after the other: (n, K_0), (n, K_1), ...
        for (c, logits) in job.logits {
            let rows = job.evaluationSamples(c)
            let n = rows.count, first = rows.startIndex
            var offset = 0
            for (h, loss) in problem.losses.enumerated() {
                let k = loss.classes
                for i in 0..<(n * k) { out[h][first * k + i] = logits[offset + i] }
                offset += n * k
            }
        }
        statistics.evaluations += 1
        return out
    }

    /// Set while `drive` runs: a stop request ends the wait for results.
    var control: RunControl?

    /// The run's kernels (`StepExecutor.kernels`): the workers', not this process's.
    public var kernels: KernelIdentity? { runKernels }

    public var workerCounts: (joined: Int, lost: Int)? { (statistics.workersJoined, statistics.workersLost) }

    /// With shard servers the optimizer runs there (`updateServers`).
    public var appliesOptimizer: Bool { options.servers > 0 }

    /// With shard servers: gathers the weights and optimizer state into `state`.
    public func synchronize(_ state: TrainingState) throws(TrainingError) { try gather(into: state) }

    public func idle() {
        try? pump(timeout: .zero, state: nil)
        maintain(state: nil)
    }

    /// Runs `run` to its end on this cluster, then tells the workers why it ended (finished,
    /// stopped at a step, or failed): what `loom train --workers N` and `loom coordinator`
    /// both do, so that they end the same way.
    public func drive(_ run: TrainingRun, control: RunControl) throws(TrainingError) -> RunOutcome {
        // A step or evaluation that waits for workers gives up when a stop is requested.
        self.control = control
        defer { self.control = nil }
        let outcome: RunOutcome
        do {
            outcome = try run.run(executor: self, control: control)
        } catch {
            shutdown(reason: "the coordinator failed: \(error)")
            throw error
        }
        switch outcome {
        case .stopped(let step): shutdown(reason: "the coordinator stopped at step \(step)")
        case .finished: shutdown(reason: "training finished")
        }
        return outcome
    }

    /// Tells every worker to stop (they reconnect, or exit with `--exit-on-shutdown`) and
    /// logs the final summary line.
    public func shutdown(reason: String) {
        early = nil
        let frames = Message.shutdown(Shutdown(runID: runID, reason: reason)).encode()
        for worker in orderedWorkers { try? transport.send(frames, to: worker.peer) }
        for server in servers.values { try? transport.send(frames, to: server.peer) }
        logRejectSummary(force: true)
        logger.info("\(summaryLine)")
        // Its file goes now, not when the executor does; workers after this get the socket.
        sharedWeights = nil
    }

    /// `cluster summary: ...`, with the reject counts (the tests read this line).
    public var summaryLine: String {
        let s = statistics
        return "cluster summary: run \(String(runID, radix: 16)), \(s.stepsExecuted) steps, \(s.evaluations) evaluations, workers joined \(s.workersJoined), lost \(s.workersLost), refused \(s.workersRefused), blocks reassigned \(s.blocksReassigned), early assignments \(s.earlyAssignments) (withdrawn \(s.earlyWithdrawn)), deadlines missed \(s.deadlinesMissed), blocks audited \(s.blocksAudited) (mismatches \(s.auditMismatches), out of bounds \(s.outOfBounds), not audited for want of a second worker \(s.auditsSkipped)), workers excluded \(s.workersExcluded), bytes sent \(s.bytesSent) (weights \(s.weightBytesSent)), through shared memory \(s.sharedBytes) (gradients \(s.sharedGradientBytes)), rejected messages: \(rejects)"
    }

    /// Waits (servicing the cluster) until at least `count` workers are connected,
    /// `timeout` passes or `control` asks to stop; returns the number connected.
    @discardableResult
    public func waitForWorkers(_ count: Int, timeout: Duration, control: RunControl? = nil) -> Int {
        let deadline = clock.now + timeout
        while workers.count < count && clock.now < deadline && control?.stopRequested != true {
            try? pump(timeout: .milliseconds(20), state: nil)
            maintain(state: nil)
        }
        return workers.count
    }

    /// Waits (servicing the cluster) until `count` workers are connected, `timeout` passes
    /// (nil: no limit) or `control` asks to stop, logging every `waitLogInterval` how many
    /// are in; returns the number connected. One worker is enough to train: this wait is
    /// for speed from the first step, never a failure.
    @discardableResult
    public func assemble(_ count: Int, timeout: Duration?, control: RunControl) -> Int {
        let deadline = timeout.map { clock.now + $0 }
        while !control.stopRequested && deadline.map({ clock.now < $0 }) ?? true {
            let slice = deadline.map { min(options.waitLogInterval, $0 - clock.now) } ?? options.waitLogInterval
            if waitForWorkers(count, timeout: slice, control: control) >= count { break }
            if !control.stopRequested {
                logger.notice("\(workers.count) of \(count) worker(s) connected; waiting before the first step")
            }
        }
        return workers.count
    }

    // MARK: - The loop

    /// Runs `job` to completion: cut, assign, collect, reassign.
    private func run(_ job: ClusterJob, state: TrainingState) throws(TrainingError) {
        self.job = job
        let started = clock.now
        defer {
            self.job = nil
            statistics.jobSeconds += seconds(clock.now - started)
            if case .train = job.kind, let first = job.firstResultAt, let last = job.lastResultAt {
                statistics.firstResultSeconds += seconds(first - started)
                statistics.resultSpreadSeconds += seconds(last - first)
            }
        }
        let tick = min(options.heartbeatInterval, .milliseconds(50))
        try prepareServers(state)
        if case .train = job.kind { options.timeline?.record(.stepStart, step: job.step) }
        // With overlap the servers' update goes after the first assignments: the workers
        // start first (a gradient range that reaches a server before its update waits there).
        var serversStarted = false
        while true {
            try checkServers()
            if control?.stopRequested == true {
                logger.notice("step \(job.step): stop requested before every result was in; the step is not taken")
                throw .stopRequested
            }
            if let divergence = job.divergence {
                // As `TrainingState.apply` says it for a step computed in this process.
                throw .diverged(step: Int(job.step), detail: divergence)
            }
            if job.isComplete {
                if !serversStarted {
                    serversStarted = true
                    startServerStep(job, state: state)
                }
                // Every piece is in: audits compared first (a mismatch or a block out of
                // bounds gives out more work), then reduce; a piece whose gradient in shared
                // memory was unreadable is out again and goes to a worker below.
                if try settleAudits(job, state: state), finish(job) { break }
                if job.isComplete { continue }
            }
            try distribute(job, state: state)
            if !serversStarted {
                serversStarted = true
                startServerStep(job, state: state)
                // Withdrawn early assignments of workers that got nothing of this step, then
                // the next step's assignments (ClusterExecutor+Early.swift).
                if case .train = job.kind {
                    sendWithdrawals(state: state)
                    try assignEarly(after: job, state: state)
                }
            }
            if job.isComplete { continue }
            try pump(timeout: tick, state: state)
            maintain(state: state)
            if workers.isEmpty && clock.now - lastWaitLog >= options.waitLogInterval {
                lastWaitLog = clock.now
                let what = job.isCut ? "step \(job.step) has unfinished work" : "step \(job.step) is ready"
                logger.notice("no live worker: waiting for workers (\(what)); start one with `loom worker --connect <endpoint>`")
            }
        }
    }

    /// Receives and handles every message that arrives within `timeout` (at least one wait).
    func pump(timeout: Duration, state: TrainingState?) throws(TrainingError) {
        var wait = timeout
        for _ in 0..<10_000 {
            let envelope: Envelope?
            do { envelope = try transport.receive(timeout: wait) } catch {
                throw .cluster(what: "receiving from the workers", cause: error)
            }
            guard let envelope else { return }
            statistics.bytesReceived += envelope.frames.reduce(0) { $0 + $1.count }
            handle(envelope, state: state)
            wait = .zero
        }
    }

    /// Heartbeats out, dead workers out.
    func maintain(state: TrainingState?) {
        let now = clock.now
        logRejectSummary()
        for worker in orderedWorkers where now - worker.lastHeard > options.workerTimeout {
            declareDead(worker, why: "silent for \(milliseconds(now - worker.lastHeard)) ms (cluster.worker_timeout_ms \(milliseconds(options.workerTimeout)))")
        }
        enforceDeadlines()
        var beat: [[UInt8]]?
        if now - lastHeartbeat >= options.heartbeatInterval {
            lastHeartbeat = now
            let version = UInt64(state?.step ?? 0)
            beat = Message.heartbeat(Heartbeat(runID: runID, step: job?.step ?? version, weightsVersion: version)).encode()
            for worker in orderedWorkers { send(beat!, to: worker) }
        }
        maintainServers(beat: beat)
    }

    /// Gives every unowned piece of `job`, and every open audit copy, to a live worker (the
    /// least loaded, then the earliest joined), sending weights first where the worker's
    /// version differs. Workers that missed this job's deadline, or that an audit
    /// quarantined, get nothing more of it.
    func distribute(_ job: ClusterJob, state: TrainingState) throws(TrainingError) {
        guard !workers.isEmpty else { return }
        if !job.isCut {
            job.cut(slots: orderedWorkers.map(\.slots))
            planAudits(job)
            // Weights to every worker about to get a piece first, assignments after: the
            // last worker then starts a weights message earlier (all loads are zero, so the
            // loop below picks workers in join order).
            for worker in orderedWorkers.prefix(job.unowned.count) { _ = ensureWeights(worker, state: state) }
        }
        let candidates = orderedWorkers.filter { job.mayWork($0.peer) }
        // Every assignment is built before the first goes out, so the workers start within
        // a send of each other (building one costs as much as sending several).
        var outgoing: [(key: Int, copy: AuditCopy.Stage?, worker: WorkerRecord, frames: [[UInt8]])] = []
        for key in job.unowned {
            // A piece some worker found NaN in goes to another worker if there is one, and
            // so does one whose audit copy a worker holds.
            let avoid = job.pieces[key]!.nonFiniteFrom.union(job.auditHolders(key))
            let others = avoid.isEmpty ? candidates : candidates.filter { !avoid.contains($0.peer) }
            guard let worker = (others.isEmpty ? candidates : others)
                .min(by: { job.cost(of: $0.peer, slots: $0.slots, adding: job.pieces[key]!.block.count)
                    < job.cost(of: $1.peer, slots: $1.slots, adding: job.pieces[key]!.block.count) }) else { break }
            outgoing.append((key, nil, worker, try assignmentFrames(job, piece: key, for: worker, state: state)))
            job.pieces[key]!.owner = worker.peer
            job.pieces[key]!.heldUnits = job.units(of: worker.peer)
        }
        for (key, stage, worker) in try placeAuditCopies(job, candidates: candidates, state: state) {
            outgoing.append((key, stage, worker, try assignmentFrames(job, piece: key, for: worker, state: state, inline: true)))
            job.setCopy(key, stage) { $0.owner = worker.peer }
            let held = job.units(of: worker.peer)
            job.setCopy(key, stage) { $0.heldUnits = held }
        }
        for (key, stage, worker, frames) in outgoing {
            if let stage {
                guard job.copy(key, stage)?.owner == worker.peer else { continue }
            } else {
                guard job.pieces[key]!.owner == worker.peer else { continue }
            }
            let reassigned = stage == nil && !job.pieces[key]!.givenTo.isEmpty
            // Its next result may take the slot of one it left in shared memory: read that first.
            _ = readPendingShared(job, of: worker)
            // A block given late while the next step is out ahead: the worker may have
            // started that step on its weights, so this step's version goes with the block.
            if reassigned, early != nil, options.servers > 0 { worker.weightsVersion = nil }
            guard ensureWeights(worker, state: state) else { continue }
            let now = clock.now
            if let stage {
                job.setCopy(key, stage) { $0.givenTo.insert(worker.peer); $0.givenAt = now }
            } else {
                job.pieces[key]!.givenTo.insert(worker.peer)
                job.pieces[key]!.givenAt = now
            }
            guard send(frames, to: worker) else { continue }
            let block = job.pieces[key]!.block
            if let stage {
                logger.debug("step \(job.step): block \(block) to worker \(worker.name) for its audit (\(stage) computation)")
            } else if reassigned {
                statistics.blocksReassigned += 1
                logger.info("step \(job.step): block \(block) reassigned to worker \(worker.name)")
            } else {
                logger.trace("step \(job.step): block \(block) to worker \(worker.name)")
            }
        }
    }

    /// Sends `state`'s weights to `worker` unless it holds them; false if it died. A worker
    /// with shared memory gets a small message naming the slot they were published in.
    func ensureWeights(_ worker: WorkerRecord, state: TrainingState) -> Bool {
        let version = UInt64(state.step)
        if worker.weightsVersion == version { return true }
        if options.servers > 0 { return ensureShardedWeights(worker, state: state) }
        let shared = worker.sharedResults != nil ? sharedWeightsFrames(state: state) : nil
        let frames = shared ?? socketWeightsFrames(state: state)
        guard send(frames, to: worker) else { return false }
        if shared == nil { statistics.weightBytesSent += frames.reduce(0) { $0 + $1.count } }
        worker.weightsVersion = version
        return true
    }

    /// The full weights message of `state`'s version, encoded once for every worker.
    private func socketWeightsFrames(state: TrainingState) -> [[UInt8]] {
        let version = UInt64(state.step)
        if weightsCache?.version != version {
            weightsCache = (version, Message.weights(WeightsUpdate(runID: runID, step: version, weightsVersion: version,
                                                                    parameters: state.computeParameters, buffers: state.buffers,
                                                                    bf16: problem.config.cluster.wire == .bf16)).encode())
        }
        return weightsCache!.frames
    }

    /// The weights message of `state`'s version for workers with shared memory (nil without
    /// a region), publishing the parameters in slot version % 2 the first time: that slot
    /// held version − 2, which no worker of this step reads (a late reader sees the tag
    /// change and drops the copy).
    private func sharedWeightsFrames(state: TrainingState) -> [[UInt8]]? {
        guard let region = sharedWeights else { return nil }
        let version = UInt64(state.step)
        if sharedWeightsCache?.version != version {
            let slot = SharedSlot(slot: UInt32(version % 2), tag: version + 1)
            state.computeParameters.withUnsafeBytes { region.write(slot: Int(slot.slot), tag: slot.tag, payload: $0) }
            statistics.sharedWeightBytes += 4 * state.parameters.count
            let update = WeightsUpdate(runID: runID, step: version, weightsVersion: version, parameters: [],
                                       buffers: state.buffers, shared: slot)
            sharedWeightsCache = (version, Message.weights(update).encode())
        }
        return sharedWeightsCache!.frames
    }

    /// Sends `frames` to `worker`; a failed send means the worker is gone (or not reading).
    @discardableResult
    func send(_ frames: [[UInt8]], to worker: WorkerRecord) -> Bool {
        do {
            try transport.send(frames, to: worker.peer)
            statistics.bytesSent += frames.reduce(0) { $0 + $1.count }
            return true
        } catch {
            declareDead(worker, why: "send failed: \(error)")
            return false
        }
    }

    func declareDead(_ worker: WorkerRecord, why: String) {
        guard workers.removeValue(forKey: worker.peer) != nil else { return }
        worker.sharedResults = nil
        if departed.count > 10_000 { departed.removeAll() }
        departed[worker.peer] = worker.hello
        statistics.workersLost += 1
        let released = job?.release(worker.peer) ?? 0
        _ = early?.job.release(worker.peer)
        var pending = released > 0 ? "; \(released) block(s) of step \(job!.step) go to other workers" : ""
        for (which, blocks) in reopenDelivered(by: worker.peer) where !blocks.isEmpty {
            pending += "; its \(blocks.count) delivered block(s) of step \(which) are computed again (their gradients may not have reached every server)"
        }
        logger.warning("worker \(worker.name) declared dead: \(why)\(pending); \(workers.count) worker(s) left")
        if workers.isEmpty { lastWaitLog = clock.now - options.waitLogInterval }
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func milliseconds(_ d: Duration) -> Int64 {
    d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
}
