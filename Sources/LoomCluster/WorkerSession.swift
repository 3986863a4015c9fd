// One connection of a worker to a coordinator: hello, welcome, then weights and assignments.

import Foundation
import Logging
import LoomConfig
import LoomData
import LoomTraining
import LoomWire

final class WorkerSession {
    enum Outcome { case reconnect, exit }

    /// What the welcome set up.
    struct Run {
        var runID: UInt64
        var description: RunDescription
        /// One computer per slot (`--slots`); `computer` is the first.
        var slotComputer: SlotComputer
        var computer: ShardComputer { slotComputer.first }
        var heartbeat: Duration
        var timeout: Duration
        var tta: [TTATransform]
        /// The batch-norm buffers the compute stand-in reports as its batch statistics: the
        /// model's initial ones, whatever version the worker holds (a training step reads
        /// no buffer, so an early assignment starts without the version's; `StandIn`).
        var standInBuffers: [Float] = []
    }

    let worker: Worker
    private let transport: Transport
    private let clock = ContinuousClock()
    var current: Run?
    var parameters: [Float] = []
    var buffers: [Float] = []
    var version: UInt64?
    /// Shared memory with a coordinator on this machine: its weights region (read-only) and
    /// this worker's results region, for this run; nil when not offered or not usable.
    var shared: (weights: SharedRegion, results: SharedRegion)?
    /// Results published in `shared.results` so far (the next tag; slots alternate).
    var sharedResultsWritten: UInt64 = 0
    /// The shard servers of the run (empty: none), in slice order, and the weights version
    /// whose slices are being collected from them.
    var servers: [ServerLink] = []
    /// The slices by buckets (overlap; the map's `buckets`): the servers' `lower ..< upper`
    /// are then offsets of this layout, not of the parameters. Nil: one bucket.
    var layout: ParameterSlices?
    var collecting: UInt64?
    /// Overlap: the version asked for right after the last result (its ranges stream in).
    var prePulled: UInt64?
    /// Overlap: that version's parameters, assembled as its last slice came in, before the
    /// coordinator's weights message names it (`collect` then takes them as they are).
    var assembled: (version: UInt64, parameters: [Float])?
    /// A parameters buffer of an older version, written over by the next assembly.
    var spareParameters: [Float] = []
    /// Early assignments (docs/PROTOCOL.md, "Early assignments"): work for a weights version
    /// not held yet, started once the servers' slices of it are whole here.
    var queued: [Assignment] = []
    /// Overlap: the version streaming in, its ranges written to their places as they come
    /// (`place`), and which elements are written.
    var streaming: (version: UInt64, parameters: [Float], written: ElementRanges)?
    /// The version an early assignment made this worker take as its last slice came (its
    /// buffers are those of an older weights message).
    var startedEarly: UInt64?
    /// Tests only (`WorkerFault.dieAfterResult`): this block's gradient goes to the first
    /// server only, and the process dies once its result is sent.
    var dyingAfterResult = false
    private var lastHeard: ContinuousClock.Instant
    private var lastBeat: ContinuousClock.Instant
    private var logger: Logger { worker.log }

    init(worker: Worker, transport: Transport) {
        self.worker = worker
        self.transport = transport
        lastHeard = clock.now
        lastBeat = clock.now
    }

    /// The hello of this worker now: its data, and its side of shared memory if any.
    var hello: Hello {
        var hello = worker.hello
        if worker.options.standInMilliseconds != nil, let run = current {
            // A stand-in reads no sample: it asks for none, as a worker with the run's file.
            hello.hasLocalData = true
            hello.datasetFingerprint = run.description.datasetFingerprint
        }
        if let shared {
            hello.sharedMemory = SharedMemoryOffer(weightsToken: shared.weights.tokenHex, resultsPath: shared.results.path,
                                                   resultsToken: shared.results.tokenHex)
        }
        return hello
    }

    func run() throws(ClusterError) -> Outcome {
        sendToCoordinator(.hello(hello))
        let endpoint = worker.options.endpoint
        while !worker.stopRequested {
            let envelope: Envelope?
            do {
                if awaitingStream {
                    // Overlap: the next version streams in from the servers; take its slices
                    // as they come (and assemble it once whole), not when the coordinator's
                    // next message happens to wake this loop.
                    TransportWait.any([transport] + servers.map(\.transport), timeout: .milliseconds(50))
                    envelope = try transport.receive(timeout: .zero)
                } else {
                    envelope = try transport.receive(timeout: .milliseconds(50))
                }
            } catch { throw .transport(error) }
            if let envelope, let outcome = try handle(envelope.frames) { return outcome }
            drainServers()
            try startQueued()
            let now = clock.now
            let limit = current?.timeout ?? worker.options.helloTimeout
            if now - lastHeard > limit {
                logger.warning("coordinator at \(endpoint) silent for \(milliseconds(now - lastHeard)) ms; reconnecting with a fresh socket")
                return .reconnect
            }
            beatIfDue()
        }
        return .exit
    }

    /// While the session waits on something else (the shard servers' slices), a message
    /// waiting unread on the coordinator's socket still shows the coordinator is alive: it is
    /// handled when the main loop runs again, and the wait does not count as its silence.
    func noteCoordinatorIfReady() {
        if TransportWait.any([transport], timeout: .zero) { lastHeard = clock.now }
    }

    func beatIfDue() {
        guard let run = current, clock.now - lastBeat >= run.heartbeat else { return }
        lastBeat = clock.now
        sendToCoordinator(.heartbeat(Heartbeat(runID: run.runID, step: 0, weightsVersion: version ?? 0)))
    }

    func sendToCoordinator(_ message: Message) {
        do { try transport.send(message, to: .coordinator) } catch {
            logger.debug("cannot send \(message.type) to the coordinator yet: \(error)")
        }
    }

    /// Handles one message; an outcome ends the session.
    private func handle(_ frames: [[UInt8]]) throws(ClusterError) -> Outcome? {
        let message: Message
        do { message = try Message.decode(frames, expectedRunID: current?.runID) } catch {
            logger.warning("dropped a message from the coordinator at \(worker.options.endpoint): \(error)")
            return nil
        }
        lastHeard = clock.now
        switch message {
        case .welcome(let welcome):
            if current?.runID != welcome.runID { try join(welcome) }
        case .refuse(let refusal):
            throw .refused(endpoint: worker.options.endpoint, reason: refusal.reason)
        case .shutdown(let shutdown):
            logger.info("coordinator says shutdown: \(shutdown.reason)")
            return worker.options.exitOnShutdown ? .exit : .reconnect
        case .weights(let update) where update.shared == nil && update.parameters.isEmpty && !servers.isEmpty:
            guard let run = current else { return nil }
            let model = run.computer.problem.model
            try collect(update, model: ModelShape(parameterCount: model.parameters.count, bufferCount: model.buffers.count))
        case .weights(let update):
            guard let run = current else { return nil }
            let model = run.computer.problem.model
            if let slot = update.shared {
                guard update.buffers.count == model.buffers.count else {
                    throw .unusableWork(endpoint: worker.options.endpoint, what: "weights version \(update.weightsVersion)", reason: "\(update.buffers.count) buffer values for a model of \(model.buffers.count)")
                }
                // Whatever the copy leaves in `parameters` belongs to no version until it checks out.
                version = nil
                guard readSharedWeights(slot, count: model.parameters.count) else {
                    // Read too late (the slot holds a newer version): this session is behind,
                    // so start a new one; the coordinator sends the current weights again.
                    logger.warning("weights version \(update.weightsVersion): slot \(slot.slot) of the shared weights region no longer holds tag \(slot.tag) with \(model.parameters.count) parameters; reconnecting with a fresh session")
                    return .reconnect
                }
                buffers = update.buffers
                version = update.weightsVersion
                return nil
            }
            guard update.parameters.count == model.parameters.count, update.buffers.count == model.buffers.count else {
                throw .unusableWork(endpoint: worker.options.endpoint, what: "weights version \(update.weightsVersion)", reason: "\(update.parameters.count)+\(update.buffers.count) values for a model of \(model.parameters.count)+\(model.buffers.count)")
            }
            parameters = update.parameters
            buffers = update.buffers
            version = update.weightsVersion
        case .assignment(let assignment):
            worker.options.timeline?.record(.assigned, step: assignment.step)
            if queueIfEarly(assignment) { return nil }
            try compute(assignment)
        case .evaluate(let request):
            try evaluate(request)
        case .shard(let m) where m.kind == .map:
            connectServers(m)
        case .heartbeat, .hello, .result, .evaluation, .shard:
            break
        }
        return nil
    }

    /// What a welcome asks for, checked whole before anything large is allocated: the
    /// config (every number within `ConfigLimits`), the run description, the model (within
    /// `ModelLimits`, its micro-batch workspace too) and the test-time transforms.
    struct Plan {
        var config: RunConfig
        var description: RunDescription
        var problem: TrainingProblem
        var tta: [TTATransform]
    }

    /// The plan of `welcome`, or why it cannot be run here (`.badWelcome`).
    static func plan(_ welcome: Welcome, endpoint: String,
                     memoryBytes: UInt64 = ProcessInfo.processInfo.physicalMemory) throws(ClusterError) -> Plan {
        do {
            let config = try ConfigLoader.parse(yaml: welcome.configYAML, source: "welcome from \(endpoint)", defaultName: "run")
            let description = try RunDescription.parse(welcome.runJSON)
            let problem = try TrainingProblem(config: config, heads: description.heads, imageShape: description.imageShape)
            let tta = try TTATransform.parse(config.data.tta)
            // Within the limits but not within this machine: say so rather than abort.
            let bytes = problem.model.workspaceBytes(batch: config.training.microBatch) ?? Int.max
            if UInt64(bytes) > memoryBytes {
                throw ClusterError.badWelcome(endpoint: endpoint, reason: "the model's workspace for a micro-batch of \(config.training.microBatch) takes \(bytes) bytes, more than this machine's \(memoryBytes)")
            }
            return Plan(config: config, description: description, problem: problem, tta: tta)
        } catch ClusterError.badWelcome(_, let reason) {
            throw .badWelcome(endpoint: endpoint, reason: reason)
        } catch let error as ClusterError {
            throw error
        } catch {
            throw .badWelcome(endpoint: endpoint, reason: "\(error)")
        }
    }

    /// Builds the run from the welcome: config, resolved heads, model, computer.
    private func join(_ welcome: Welcome) throws(ClusterError) {
        let endpoint = worker.options.endpoint
        let plan = try Self.plan(welcome, endpoint: endpoint)
        let (config, description, problem, tta) = (plan.config, plan.description, plan.problem, plan.tta)
        assembled = nil
        queued = []
        streaming = nil
        current = Run(runID: welcome.runID, description: description,
                      slotComputer: SlotComputer(problem: problem, microBatch: config.training.microBatch,
                                                 slots: max(worker.options.slots, 1)),
                      heartbeat: .milliseconds(config.cluster.heartbeatMs),
                      timeout: .milliseconds(config.cluster.workerTimeoutMs), tta: tta)
        if worker.options.standInMilliseconds != nil {
            current!.standInBuffers = problem.model.initialParameters(seed: config.training.seed).buffers
        }
        version = nil
        logger.info("joined run \(String(welcome.runID, radix: 16)) at \(endpoint): \(config.name), \(problem.model.parameters.count) parameters, micro-batch \(config.training.microBatch)")
        let foundData = findLocalData(description)
        let mapped = mapSharedMemory(path: welcome.sharedWeightsPath, parameterCount: problem.model.parameters.count)
        // Tell the coordinator what changed since the first hello.
        if foundData || mapped || worker.options.standInMilliseconds != nil { sendToCoordinator(.hello(hello)) }
    }

    /// Without `--data` and without `--no-local-data`: use the config's `data.path` if this
    /// machine has the same file; true when found (the coordinator is told with a new hello).
    private func findLocalData(_ description: RunDescription) -> Bool {
        guard worker.options.useLocalData, worker.localData == nil,
              FileManager.default.isReadableFile(atPath: description.dataPath) else { return false }
        guard let data = try? WorkerData(path: description.dataPath) else { return false }
        guard data.fingerprint == description.datasetFingerprint else {
            logger.notice("not using \(description.dataPath): fingerprint \(data.fingerprint) differs from the run's \(description.datasetFingerprint); samples will come from the coordinator")
            return false
        }
        if let verifier = worker.options.dataVerifier, !verifier.isRemembered(data.dataset) {
            guard data.fileSize <= worker.options.foundDataVerifyLimit else {
                logger.notice("not using \(description.dataPath) yet: it was not verified on this machine, and at \(data.fileSize / 1_000_000) MB it would hold up this worker; run `loom verify \(description.dataPath)` here or start the worker with --data; samples will come from the coordinator")
                return false
            }
            do { try data.verify(with: verifier, logger: logger) } catch {
                logger.notice("not using \(description.dataPath): \(error); samples will come from the coordinator")
                return false
            }
        }
        worker.localData = data
        logger.info("reading samples from \(description.dataPath) (same fingerprint as the coordinator's)")
        return true
    }

    /// A coordinator on this machine offers its weights region at `path`: map it and make a
    /// results region for gradients of `parameterCount` floats; true when both worked (the
    /// coordinator is told with a new hello). On another machine the file is not there.
    private func mapSharedMemory(path: String, parameterCount: Int) -> Bool {
        shared = nil  // a region of an earlier run goes (SharedRegion unmaps and removes on release)
        guard !path.isEmpty, worker.options.useSharedMemory else { return false }
        guard FileManager.default.fileExists(atPath: path) else {
            logger.debug("shared weights region \(path) is not on this machine: weights and gradients go over the socket")
            return false
        }
        do {
            let weights = try SharedRegion.open(path: path)
            guard weights.slotBytes >= 4 * parameterCount else {
                logger.notice("shared weights region \(path) has slots of \(weights.slotBytes) bytes, a model of \(parameterCount) parameters needs \(4 * parameterCount); using the socket")
                return false
            }
            let results = try SharedRegion.create(kind: "results", slotCount: 2, slotBytes: 4 * parameterCount,
                                                  directory: (path as NSString).deletingLastPathComponent)
            shared = (weights, results)
            sharedResultsWritten = 0
            logger.info("weights and gradients through shared memory (\(path), \(results.path))")
            return true
        } catch {
            logger.notice("no shared memory with the coordinator (\(error)); using the socket")
            return false
        }
    }

    /// Copies the parameters of `slot` of the coordinator's weights region; false when the
    /// slot does not hold that tag and size before and after the copy.
    private func readSharedWeights(_ slot: SharedSlot, count: Int) -> Bool {
        guard let region = shared?.weights else { return false }
        if parameters.count != count { parameters = [Float](repeating: 0, count: count) }
        return parameters.withUnsafeMutableBytes { region.read(slot: Int(slot.slot), tag: slot.tag, into: $0) }
    }

    /// Publishes `gradients` in the next slot of this worker's results region (slots
    /// alternate, so the result before stays readable); nil without shared memory.
    func publishSharedGradient(_ gradients: [Float]) -> SharedSlot? {
        guard let region = shared?.results else { return nil }
        sharedResultsWritten += 1
        let slot = Int(sharedResultsWritten % UInt64(region.slotCount))
        gradients.withUnsafeBytes { region.write(slot: slot, tag: sharedResultsWritten, payload: $0) }
        return SharedSlot(slot: UInt32(slot), tag: sharedResultsWritten)
    }
}
