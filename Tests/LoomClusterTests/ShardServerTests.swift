// Sharded aggregation with real processes (docs/CLUSTER.md, "Shard servers"): a
// `loom coordinator` with cluster.servers S, S `loom server`s and `loom worker`s over ipc
// sockets; the final weights compared bit for bit with a one-process run.

import Foundation
import LoomConfig
import LoomTestSupport
import LoomTraining
import LoomWire
import Testing

extension ClusterHarness {
    /// Starts a shard server for the coordinator (log `<name>.log`), bound at `<name>.sock`.
    @discardableResult
    func startServer(_ name: String, extra: [String] = []) throws -> Process {
        try spawn(["server", "--connect", endpoint, "--bind", "ipc://" + path("\(name).sock"), "--exit-on-shutdown"] + extra,
                  log: "\(name).log")
    }
}

@Suite(.serialized) struct ShardServerTests {
    @Test func oneToThreeServersGiveTheWeightsOfAOneProcessRun() throws {
        let h = try ClusterHarness("servers", model: "reference-cnn", maxSteps: 3)
        let reference = try h.referenceModel()
        for s in 1...3 {
            let run = "run\(s)"
            let coordinator = try h.startCoordinator(run: run, extra: ["--min-workers", "2", "--set", "cluster.servers=\(s)"])
            for i in 0..<s { try h.startServer("\(run)-server\(i)") }
            try h.startWorker("\(run)-w0")
            try h.startWorker("\(run)-w1", extra: ["--exit-on-shutdown", "--no-local-data"])
            let model = try h.finish(coordinator, run: run)
            #expect(bitwiseEqual(model, reference), "\(s) server(s): weights differ from the one-process run")
            let log = h.log("\(run).log")
            #expect(log.contains("\(s) of \(s) server(s)"), "\(s) server(s) never all joined: \(log)")
            // Every server applied every step (its last line comes after the coordinator's
            // shutdown message, which the coordinator's exit does not wait for).
            for i in 0..<s {
                let name = "\(run)-server\(i).log"
                #expect(h.waitFor("3 steps applied", in: name, seconds: 30), "\(h.log(name))")
            }
        }
    }

    /// The checkpoint gathers the slices of the weights and of Adam's two slots: a run
    /// stopped there and resumed with another number of servers ends with the weights of
    /// one uninterrupted process.
    @Test func aRunCheckpointedWithTwoServersResumesWithThreeToTheSameBits() throws {
        let h = try ClusterHarness("servers-resume", model: "mlp", maxSteps: 8,
                                   extra: ["optimizer.kind=adamw", "optimizer.lr=0.001", "checkpoint.every_steps=2"])
        let reference = try h.referenceModel()
        let first = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=2",
                                                               "--set", "training.max_steps=4"])
        for i in 0..<2 { try h.startServer("a-server\(i)") }
        for w in 0..<2 { try h.startWorker("a-w\(w)") }
        _ = try h.finish(first, run: "run")
        let second = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=3",
                                                                "--resume", "auto"])
        for i in 0..<3 { try h.startServer("b-server\(i)") }
        for w in 0..<2 { try h.startWorker("b-w\(w)") }
        let model = try h.finish(second, run: "run")
        #expect(h.log("run.log").contains("resumed from"), "\(h.log("run.log"))")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run after a resume with 3 servers")
    }

    /// A server that dies while the coordinator gathers a checkpoint (it ends itself with
    /// SIGKILL on the second gather, before answering): the checkpoint is not written from
    /// the slices it has, the server is declared lost during the gather, the run rolls back
    /// to the checkpoint before, a new server takes the slice, and the weights end as one
    /// uninterrupted process's.
    @Test func aServerLostDuringACheckpointsGatherRollsBackToTheOneBefore() throws {
        let h = try ClusterHarness("servers-gather", model: "reference-cnn", maxSteps: 24,
                                   extra: ["checkpoint.every_steps=8", "cluster.worker_timeout_ms=2000"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=2"])
        let victim = try h.startServer("server0", extra: ["--test-fault", "die-on-gather:2"])
        try h.startServer("server1")
        for w in 0..<2 { try h.startWorker("w\(w)") }
        // Bounded: a server that never meets its second gather fails the test, not hangs it.
        let met = h.waitFor("gather number 2 came", in: "server0.log", seconds: 120)
        if !met { kill(victim.processIdentifier, SIGKILL) }
        victim.waitUntilExit()
        #expect(victim.terminationReason == .uncaughtSignal && victim.terminationStatus == SIGKILL,
                "the server did not end itself at the gather: \(h.log("server0.log"))")
        #expect(met, "\(h.log("server0.log"))")
        try h.startServer("replacement")
        let model = try h.finish(coordinator, run: "run")
        let log = h.log("run.log")
        #expect(log.contains("during the gather of the slices for step"), "\(log)")
        #expect(log.contains("rolling back from step"), "\(log)")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run after a server lost during a gather")
    }

    /// A server killed mid-run: the run rolls back to its last checkpoint, waits for a
    /// server to take the slice, and ends with the weights of one uninterrupted process.
    @Test func aServerKilledMidRunRollsTheRunBackAndLeavesTheWeightsUnchanged() throws {
        let h = try ClusterHarness("servers-kill", model: "reference-cnn", maxSteps: 30,
                                   extra: ["checkpoint.every_steps=10", "cluster.worker_timeout_ms=2000"])
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--min-workers", "2", "--set", "cluster.servers=2"])
        let victim = try h.startServer("server0")
        try h.startServer("server1")
        for w in 0..<2 { try h.startWorker("w\(w)") }
        #expect(h.waitFor("step 12/", in: "run.log"))
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        try h.startServer("replacement")
        let model = try h.finish(coordinator, run: "run")
        let log = h.log("run.log")
        #expect(log.contains("declared lost"), "\(log)")
        #expect(log.contains("rolling back from step"), "\(log)")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run after a lost server")
    }
}

/// A real `loom server` with this test as its coordinator and as a worker: after a step it
/// still answers a `pull` for the version before it, bit for bit, which a block given again
/// after its worker was lost needs (docs/PROTOCOL.md, "A worker lost after its result");
/// with overlap, that block's push (of the version before) stands for a pull of the version
/// the server holds, as a current push does.
@Suite(.serialized) struct ShardServerPreviousVersionTests {
    func next(_ transport: ZeroMQTransport, kind: ShardMessage.Kind, runID: UInt64?) throws -> (peer: PeerID, message: ShardMessage)? {
        let until = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < until {
            guard let envelope = try transport.receive(timeout: .milliseconds(200)) else { continue }
            if case .shard(let m) = try Message.decode(envelope.frames, expectedRunID: runID), m.kind == kind { return (envelope.peer, m) }
        }
        return nil
    }

    @Test(arguments: [false, true]) func aServerAnswersAPullForTheVersionBeforeItsLastStep(overlap: Bool) throws {
        let h = try ClusterHarness("server-previous-\(overlap)", maxSteps: 1)
        let coordinator = try ZeroMQTransport.bind(endpoint: h.endpoint)
        defer { coordinator.close() }
        try h.startServer("server")
        let hello = try #require(try next(coordinator, kind: .serverHello, runID: nil), "no hello from the server: \(h.log("server.log"))")

        // Its slice: 40 parameters of version 5, the optimizer's slots as they start.
        // The effective config, as a coordinator sends it (the model inlined).
        let config = try ConfigLoader.load(path: h.config, overrides: h.overrides + ["cluster.servers=1", "cluster.overlap=\(overlap)"])
        let yaml = config.yaml
        let n = 40, runID: UInt64 = 0x5eed
        let optimizer = try Optimizer(config: config.optimizer, parameterCount: n, groups: [])
        let before = (0..<n).map { Float($0) * 0.25 - 3 }
        var body = ShardBody(kind: .state)
        body.shard = 0
        body.shards = 1
        body.lower = 0
        body.upper = n
        body.configYAML = yaml
        body.optimizerStep = 0
        body.slots = optimizer.slotNames
        let values = before + optimizer.slotNames.flatMap { optimizer.state.slots[$0]! }
        try coordinator.send(.shard(ShardMessage(runID: runID, step: 5, weightsVersion: 5, body: body, values: values)), to: hello.peer)

        // A pull of version 5 is answered once the state is in (so the gradient below is
        // not dropped as coming before it); then one piece's gradient and the step's
        // update: version 6.
        let worker = try ZeroMQTransport.connect(endpoint: "ipc://" + h.path("server.sock"))
        defer { worker.close() }
        func pull(_ version: UInt64) throws {
            try worker.send(.shard(ShardMessage(runID: runID, weightsVersion: version, body: ShardBody(kind: .pull))), to: .coordinator)
        }
        try pull(5)
        let given = try #require(try next(worker, kind: .slice, runID: runID), "no slice of version 5: \(h.log("server.log"))")
        #expect(given.message.values.array.map(\.bitPattern) == before.map(\.bitPattern))
        var gradient = ShardBody(kind: .gradient)
        gradient.first = 0
        gradient.count = 1
        try worker.send(.shard(ShardMessage(runID: runID, step: 5, weightsVersion: 5, body: gradient, values: [Float](repeating: 1, count: n))), to: .coordinator)
        var update = ShardBody(kind: .update)
        update.blocks = [0, 1]
        update.leaves = 1
        update.lrBits = (0.5 as Double).bitPattern
        try coordinator.send(.shard(ShardMessage(runID: runID, step: 5, weightsVersion: 5, body: update)), to: hello.peer)
        let updated = try #require(try next(coordinator, kind: .updated, runID: runID), "no updated: \(h.log("server.log"))")
        #expect(updated.message.weightsVersion == 6 && updated.message.body.finite == true)
        if overlap {
            // The push stood for a pull of version 6: its ranges came as they were stepped.
            let streamed = try #require(try next(worker, kind: .slice, runID: runID), "no streamed version 6: \(h.log("server.log"))")
            #expect(streamed.message.weightsVersion == 6)
        }

        // Version 6 differs from 5; version 5 comes back as it was; version 4 was never kept
        // (the pull for it is not answered: the next slice is the one asked for after it).
        try pull(6)
        let six = try #require(try next(worker, kind: .slice, runID: runID), "no slice of version 6: \(h.log("server.log"))")
        #expect(six.message.weightsVersion == 6 && six.message.values.count == n)
        #expect(six.message.values.array.map(\.bitPattern) != before.map(\.bitPattern), "the step changed nothing")
        try pull(5)
        let five = try #require(try next(worker, kind: .slice, runID: runID), "no slice of version 5: \(h.log("server.log"))")
        #expect(five.message.weightsVersion == 5)
        #expect(five.message.values.array.map(\.bitPattern) == before.map(\.bitPattern), "version 5 is not the slice the server was given")
        try pull(4)
        try pull(6)
        let again = try #require(try next(worker, kind: .slice, runID: runID), "no slice after pulls for 4 and 6: \(h.log("server.log"))")
        #expect(again.message.weightsVersion == 6)

        // With overlap, another worker's push of the same block at version 5 (computed again)
        // is answered with version 6 whole.
        guard overlap else { return }
        let late = try ZeroMQTransport.connect(endpoint: "ipc://" + h.path("server.sock"))
        defer { late.close() }
        try late.send(.shard(ShardMessage(runID: runID, step: 5, weightsVersion: 5, body: gradient, values: [Float](repeating: 1, count: n))), to: .coordinator)
        let answer = try #require(try next(late, kind: .slice, runID: runID), "a push of version 5 was not answered: \(h.log("server.log"))")
        #expect(answer.message.weightsVersion == 6 && answer.message.values.array.map(\.bitPattern) == six.message.values.array.map(\.bitPattern))
    }
}
