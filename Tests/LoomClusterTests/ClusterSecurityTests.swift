// ARCHITECTURE.md, invariants 4 and 5, with real processes: bad traffic is counted and changes nothing; only
// authorized keys get in; a worker with other data is refused.

import Foundation
import LoomTestSupport
import LoomWire
import Testing

@Suite(.serialized) struct ClusterSecurityTests {
    @Test func malformedTrafficIsCountedAndLeavesTheWeightsUnchanged() throws {
        let h = try ClusterHarness("malformed", model: "reference-cnn", maxSteps: 12)
        let reference = try h.referenceModel()
        let coordinator = try h.startCoordinator(run: "run")
        try h.startWorker("worker")
        #expect(h.waitFor("step 2/", in: "run.log"))

        // A raw DEALER learns the run id the way a worker does (hello, welcome), then misbehaves.
        let raw = try ZeroMQTransport.connect(endpoint: h.endpoint)
        defer { raw.close() }
        let hello = Hello(hostname: "raw", pid: 1, cores: 1, datasetFingerprint: "", hasLocalData: false)
        try raw.send(.hello(hello), to: .coordinator)
        var runID: UInt64?
        let deadline = Date().addingTimeInterval(10)
        while runID == nil && Date() < deadline {
            if let e = try raw.receive(timeout: .milliseconds(100)), case .welcome(let w)? = try? Message.decode(e.frames, expectedRunID: nil) {
                runID = w.runID
            }
        }
        let id = try #require(runID)
        var random = SystemRandomNumberGenerator()
        try raw.send([[0] + (1..<64).map { _ in UInt8.random(in: 0...255, using: &random) }], to: .coordinator)
        try raw.send([Array(Message.heartbeat(Heartbeat(runID: id, step: 0, weightsVersion: 0)).encode()[0].prefix(30))],
                     to: .coordinator)
        try raw.send([WireHeader(type: .result, runID: id, firstShard: 0, shardCount: 1, payloadFrameCount: 4,
                                 payloadBytes: 1 << 40).encode(), [1, 2, 3]], to: .coordinator)
        var wrongVersion = Message.hello(hello).encode()
        wrongVersion[0][4] = 9
        try raw.send(wrongVersion, to: .coordinator)
        // A result replayed from an earlier step.
        try raw.send(.result(BlockResult(runID: id, step: 0, epoch: 0, weightsVersion: 0, firstShard: 0, shardCount: 1,
                                         gradientSum: [0], batchNormStatistics: [], metricSums: [], sampleCounts: [1])),
                     to: .coordinator)

        let model = try h.finish(coordinator, run: "run")
        #expect(bitwiseEqual(model, reference))
        let summary = try #require(h.log("run.log").components(separatedBy: "rejected messages: ").last)
        for reason in ["bad magic", "bad header size", "payload too large", "wrong protocol version", "stale result"] {
            #expect(summary.contains(reason), "no '\(reason)' in the reject summary: \(summary)")
        }
    }

    @Test func curveAdmitsAnAuthorizedWorkerAndRefusesOthers() throws {
        let h = try ClusterHarness("curve", maxSteps: 3)
        for name in ["coordinator-keys", "good", "bad"] {
            let p = try h.spawn(["keygen", "--out", h.path(name)], log: "keygen-\(name).log")
            #expect(h.wait(p, seconds: 30) && p.terminationStatus == 0)
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: h.path("coordinator-keys/authorized"), withIntermediateDirectories: true)
        try fm.copyItem(atPath: h.path("good/loom.pub"), toPath: h.path("coordinator-keys/authorized/good.pub"))
        for worker in ["good", "bad"] {
            try fm.copyItem(atPath: h.path("coordinator-keys/loom.pub"), toPath: h.path("\(worker)/coordinator.pub"))
        }
        let attrs = try fm.attributesOfItem(atPath: h.path("good/loom.key"))
        #expect((attrs[.posixPermissions] as? Int) == 0o600)

        // A port the system chooses (a fixed one may be taken), read back from the log.
        let coordinator = try h.startCoordinator(run: "run", bind: "tcp://127.0.0.1:*", extra: ["--keys", h.path("coordinator-keys")])
        let endpoint = try #require(h.listeningEndpoint(in: "run.log"), "no endpoint in the log: \(h.log("run.log"))")
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":*"), "\(endpoint)")
        let intruder = try h.startWorker("bad", connect: endpoint, extra: ["--keys", h.path("bad")])
        let plaintext = try h.startWorker("plain", connect: endpoint, extra: [])
        #expect(h.waitFor("CURVE: refused", in: "run.log", seconds: 20))
        // The refused worker says so, with ZAP's status (it used to retry in silence).
        #expect(h.waitFor("refused the CURVE handshake (ZAP status 400)", in: "bad.log", seconds: 20), "\(h.log("bad.log"))")
        try h.startWorker("good", connect: endpoint, extra: ["--exit-on-shutdown", "--keys", h.path("good")])
        _ = try h.finish(coordinator, run: "run")
        for p in [intruder, plaintext] { p.terminate(); p.waitUntilExit() }
        #expect(h.log("good.log").contains("joined run"))
        #expect(!h.log("bad.log").contains("joined run"))
        #expect(!h.log("plain.log").contains("joined run"))
        for p in [intruder, plaintext] {
            #expect(!h.log("run.log").contains(":\(p.processIdentifier)) joined"), "a refused worker joined")
        }
    }

    @Test func aCoordinatorRefusesANonLoopbackBindWithoutKeys() throws {
        let h = try ClusterHarness("open", maxSteps: 1)
        // Any port: the refusal comes before the bind (and were it to bind, the system chooses).
        let p = try h.startCoordinator(run: "run", bind: "tcp://0.0.0.0:*")
        #expect(h.wait(p, seconds: 30))
        #expect(p.terminationStatus != 0)
        #expect(h.log("run.log").contains("--insecure"))
    }

    @Test func aWorkerWithADifferentDatasetIsRefusedOnBothSides() throws {
        let h = try ClusterHarness("fingerprint", maxSteps: 2)
        let other = h.path("other.h5")
        try SyntheticDataset.write(to: other, seed: 99)
        let coordinator = try h.startCoordinator(run: "run")
        let stranger = try h.startWorker("stranger", extra: ["--data", other])
        #expect(h.wait(stranger, seconds: 30))
        #expect(stranger.terminationStatus != 0)
        #expect(h.log("stranger.log").contains("fingerprint"))
        #expect(h.log("run.log").contains("refusing worker"))
        try h.startWorker("good")
        _ = try h.finish(coordinator, run: "run")
    }
}
