// CURVE between workers and shard servers, with real processes (docs/CLUSTER.md, "Shard
// servers"): a `loom server --keys` admits the workers its coordinator admits, workers learn
// its key from the coordinator's map and talk to nothing else at its endpoint, and the
// weights are bitwise those of one process.

import Foundation
import LoomTestSupport
import LoomWire
import Testing

/// Key directories for a CURVE cluster: `coordinator` admits every name in `admitted`, and
/// each of `admitted` and `others` holds its own pair and the coordinator's public key.
struct ClusterKeys {
    var pairs: [String: CurveKeyPair] = [:]

    init(_ h: ClusterHarness, admitted: [String], others: [String] = []) throws {
        let fm = FileManager.default
        for name in ["coordinator"] + admitted + others {
            let pair = try CurveKeyPair.generate()
            try pair.save(to: h.path("keys/\(name)"))
            pairs[name] = pair
        }
        try fm.createDirectory(atPath: h.path("keys/coordinator/authorized"), withIntermediateDirectories: true)
        for name in admitted + others {
            if admitted.contains(name) {
                try fm.copyItem(atPath: h.path("keys/\(name)/loom.pub"), toPath: h.path("keys/coordinator/authorized/\(name).pub"))
            }
            try fm.copyItem(atPath: h.path("keys/coordinator/loom.pub"), toPath: h.path("keys/\(name)/coordinator.pub"))
        }
    }
}

extension ClusterHarness {
    /// Starts a shard server with the keys `keys/<name>` (CURVE on both sides), bound at
    /// `<name>.sock` (or `bind`), advertising `advertise` when given.
    @discardableResult
    func startCurveServer(_ name: String, bind: String? = nil, advertise: String? = nil, exitOnShutdown: Bool = true) throws -> Process {
        try spawn(["server", "--connect", endpoint, "--bind", bind ?? "ipc://" + path("\(name).sock"), "--keys", path("keys/\(name)")]
                  + (advertise.map { ["--advertise", $0] } ?? []) + (exitOnShutdown ? ["--exit-on-shutdown"] : []),
                  log: "\(name).log")
    }
}

@Suite(.serialized) struct ShardServerCurveTests {
    /// Two CURVE servers, two CURVE workers, and a stranger knocking at a server with a key
    /// the coordinator does not admit: refused and logged on both sides, and the run ends
    /// with the weights of one process.
    @Test func curveServerLinksRefuseAStrangerAndKeepTheWeightsBitwise() throws {
        let h = try ClusterHarness("servers-curve", model: "reference-cnn", maxSteps: 6)
        let reference = try h.referenceModel()
        let keys = try ClusterKeys(h, admitted: ["w0", "w1", "s0", "s1"])
        let stranger = try CurveKeyPair.generate()
        let coordinator = try h.startCoordinator(run: "run", extra: ["--keys", h.path("keys/coordinator"), "--min-workers", "2",
                                                                     "--set", "cluster.servers=2"])
        // s0 stays after the run, so the stranger finds it whenever it knocks.
        try h.startCurveServer("s0", exitOnShutdown: false)
        try h.startCurveServer("s1")
        for w in ["w0", "w1"] { try h.startWorker(w, extra: ["--exit-on-shutdown", "--keys", h.path("keys/\(w)")]) }

        #expect(h.waitFor("CURVE: admitting the 4 worker key(s)", in: "s0.log", seconds: 60), "\(h.log("s0.log"))")
        let failures = Locked<[String]>([])
        let intruder = try ZeroMQTransport.connect(endpoint: "ipc://" + h.path("s0.sock"),
                                                   security: .curveClient(keys: stranger, serverPublicKey: try #require(keys.pairs["s0"]).publicKey),
                                                   onHandshakeFailure: { f in failures.withValue { $0.append(f) } }, peer: .shardServer)
        defer { intruder.close() }
        try intruder.send(.shard(ShardMessage(runID: 1, weightsVersion: 1, body: ShardBody(kind: .pull))), to: .coordinator)
        #expect(h.waitFor("CURVE: refused client key \(stranger.publicKey)", in: "s0.log", seconds: 20), "\(h.log("s0.log"))")
        #expect(eventually(seconds: 5) {
            _ = try? intruder.receive(timeout: .milliseconds(20))
            return failures.current.contains { $0.contains("refused the CURVE handshake (ZAP status 400)") }
        }, "\(failures.current)")

        let model = try h.finish(coordinator, run: "run")
        #expect(bitwiseEqual(model, reference), "weights differ from the one-process run with CURVE on the server links")
        let log = h.log("run.log")
        #expect(log.contains("2 of 2 server(s)"), "\(log)")
        for s in ["s0", "s1"] {
            #expect(log.contains("workers reach it with CURVE, key \(try #require(keys.pairs[s]).publicKey)"), "\(log)")
        }
        #expect(h.waitFor("6 steps applied", in: "s1.log", seconds: 30), "\(h.log("s1.log"))")
        for w in ["w0", "w1"] {
            #expect(!h.log("\(w).log").contains("CURVE handshake"), "\(h.log("\(w).log"))")
        }
    }

    /// A process at the endpoint the map names, without the server's secret key: the worker
    /// fails the handshake, says so, and sends it nothing.
    @Test func aWorkerRefusesAServerImpersonator() throws {
        let h = try ClusterHarness("servers-impostor", maxSteps: 2)
        let keys = try ClusterKeys(h, admitted: ["w0", "s0"])
        let worker = try #require(keys.pairs["w0"])
        // The impostor admits the worker's key (it may know it: it is public); what it does
        // not have is s0's secret key.
        let events = Locked<[AuthEvent]>([])
        let impostor = try ZeroMQTransport.bind(endpoint: "ipc://" + h.path("impostor.sock"),
                                                security: .curveServer(keys: try CurveKeyPair.generate(), authorizedClientKeys: [worker.publicKey]),
                                                onAuthenticationEvent: { e in events.withValue { $0.append(e) } })
        defer { impostor.close() }
        let coordinator = try h.startCoordinator(run: "run", extra: ["--keys", h.path("keys/coordinator"), "--set", "cluster.servers=1",
                                                                     "--set", "cluster.worker_timeout_ms=3000"])
        // The real s0 tells the coordinator that workers find it at the impostor's endpoint.
        try h.startCurveServer("s0", advertise: "ipc://" + h.path("impostor.sock"))
        try h.startWorker("w0", extra: ["--exit-on-shutdown", "--keys", h.path("keys/w0")])

        // Which sentence depends on how far libzmq got (a cryptographic error, or a dropped
        // connection); each names the server and its endpoint.
        #expect(h.waitFor("with the shard server at ipc://\(h.path("impostor.sock"))", in: "w0.log", seconds: 30), "\(h.log("w0.log"))")
        #expect(try impostor.receive(timeout: .milliseconds(1500)) == nil, "the impostor got a message from the worker")
        #expect(eventually(seconds: 5) { events.current.contains { !$0.accepted && $0.reason.contains("handshake failed") } }, "\(events.current)")
        #expect(!events.current.contains { $0.accepted })
        kill(coordinator.processIdentifier, SIGTERM)
        #expect(h.wait(coordinator, seconds: 30))
    }

    @Test func aServerRefusesANonLoopbackBindWithoutKeysOrInsecure() throws {
        let h = try ClusterHarness("servers-open", maxSteps: 1)
        let p = try h.spawn(["server", "--connect", h.endpoint, "--bind", "tcp://0.0.0.0:*"], log: "open.log")
        #expect(h.wait(p, seconds: 30))
        #expect(p.terminationStatus != 0)
        #expect(h.log("open.log").contains("--insecure") && h.log("open.log").contains("--keys"), "\(h.log("open.log"))")
    }
}

/// Polls `condition` every 20 ms for up to `seconds`.
private func eventually(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return condition()
}
