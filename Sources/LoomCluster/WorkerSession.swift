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
        var computer: ShardComputer
        var heartbeat: Duration
        var timeout: Duration
        var tta: [TTATransform]
    }

    let worker: Worker
    private let transport: Transport
    private let clock = ContinuousClock()
    var current: Run?
    var parameters: [Float] = []
    var buffers: [Float] = []
    var version: UInt64?
    private var lastHeard: ContinuousClock.Instant
    private var lastBeat: ContinuousClock.Instant
    private var logger: Logger { worker.log }

    init(worker: Worker, transport: Transport) {
        self.worker = worker
        self.transport = transport
        lastHeard = clock.now
        lastBeat = clock.now
    }

    func run() throws(ClusterError) -> Outcome {
        sendToCoordinator(.hello(worker.hello))
        let endpoint = worker.options.endpoint
        while !worker.stopRequested {
            let envelope: Envelope?
            do { envelope = try transport.receive(timeout: .milliseconds(50)) } catch { throw .transport(error) }
            if let envelope, let outcome = try handle(envelope.frames) { return outcome }
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
        case .weights(let update):
            guard let run = current else { return nil }
            let model = run.computer.problem.model
            guard update.parameters.count == model.parameters.count, update.buffers.count == model.buffers.count else {
                throw .badWelcome(endpoint: worker.options.endpoint, reason: "weights of \(update.parameters.count)+\(update.buffers.count) values for a model of \(model.parameters.count)+\(model.buffers.count)")
            }
            parameters = update.parameters
            buffers = update.buffers
            version = update.weightsVersion
        case .assignment(let assignment):
            try compute(assignment)
        case .heartbeat, .hello, .result:
            break
        }
        return nil
    }

    /// Builds the run from the welcome: config, resolved heads, model, computer.
    private func join(_ welcome: Welcome) throws(ClusterError) {
        let endpoint = worker.options.endpoint
        do {
            let config = try ConfigLoader.parse(yaml: welcome.configYAML, source: "welcome from \(endpoint)", defaultName: "run")
            let description = try RunDescription.parse(welcome.runJSON)
            let problem = try TrainingProblem(config: config, heads: description.heads, imageShape: description.imageShape)
            let tta = try TTATransform.parse(config.data.tta)
            current = Run(runID: welcome.runID, description: description,
                      computer: ShardComputer(problem: problem, microBatch: config.training.microBatch),
                      heartbeat: .milliseconds(config.cluster.heartbeatMs),
                      timeout: .milliseconds(config.cluster.workerTimeoutMs), tta: tta)
            version = nil
            logger.info("joined run \(String(welcome.runID, radix: 16)) at \(endpoint): \(config.name), \(problem.model.parameters.count) parameters, micro-batch \(config.training.microBatch)")
            findLocalData(description)
        } catch let error as ClusterError {
            throw error
        } catch {
            throw .badWelcome(endpoint: endpoint, reason: "\(error)")
        }
    }

    /// Without `--data` and without `--no-local-data`: use the config's `data.path` if this
    /// machine has the same file, and tell the coordinator with a second hello.
    private func findLocalData(_ description: RunDescription) {
        guard worker.options.useLocalData, worker.localData == nil,
              FileManager.default.isReadableFile(atPath: description.dataPath) else { return }
        guard let data = try? WorkerData(path: description.dataPath) else { return }
        guard data.fingerprint == description.datasetFingerprint else {
            logger.notice("not using \(description.dataPath): fingerprint \(data.fingerprint) differs from the run's \(description.datasetFingerprint); samples will come from the coordinator")
            return
        }
        worker.localData = data
        logger.info("reading samples from \(description.dataPath) (same fingerprint as the coordinator's)")
        sendToCoordinator(.hello(worker.hello))
    }
}
