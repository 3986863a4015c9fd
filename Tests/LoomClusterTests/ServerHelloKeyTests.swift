// A shard server announces, in its hello, the CURVE key workers must find at its endpoint;
// the coordinator takes it only if it is the key the server's own connection proved
// (docs/PROTOCOL.md, "Shard servers"). A real `loom coordinator` with keys; the "servers"
// are CURVE clients in this process that say hello as a `loom server` does.

import Foundation
import LoomTestSupport
import LoomWire
import Testing

@Suite(.serialized) struct ServerHelloKeyTests {
    func hello(key: String, endpoint: String) -> Message {
        var body = ShardBody(kind: .serverHello)
        body.endpoint = endpoint
        body.hostname = "test"
        body.pid = 1
        body.publicKey = key
        return .shard(ShardMessage(runID: 0, body: body))
    }

    @Test func aHelloAnnouncingAnotherKeyThanTheConnectionsIsRefused() throws {
        let h = try ClusterHarness("server-hello-key", maxSteps: 1)
        let keys = try ClusterKeys(h, admitted: ["s0", "s1"])
        let s0 = try #require(keys.pairs["s0"]), s1 = try #require(keys.pairs["s1"])
        let other = try CurveKeyPair.generate()
        let coordinatorKey = try #require(keys.pairs["coordinator"]).publicKey
        let coordinator = try h.startCoordinator(run: "run", extra: ["--keys", h.path("keys/coordinator"), "--set", "cluster.servers=2"])
        defer { kill(coordinator.processIdentifier, SIGTERM); _ = h.wait(coordinator, seconds: 30) }
        #expect(h.waitFor("listening", in: "run.log", seconds: 60), "\(h.log("run.log"))")

        // s0 connects with its own keys but announces another key: refused, and said why.
        let liar = try ZeroMQTransport.connect(endpoint: h.endpoint, security: .curveClient(keys: s0, serverPublicKey: coordinatorKey))
        defer { liar.close() }
        try liar.send(hello(key: other.publicKey, endpoint: "ipc://" + h.path("s0.sock")), to: .coordinator)
        let answer = try #require(try liar.receive(timeout: .seconds(20)), "no answer to a hello with another key")
        guard case .refuse(let refusal) = try Message.decode(answer.frames, expectedRunID: nil) else {
            Issue.record("expected a refusal, got \(answer.frames.count) frames")
            return
        }
        #expect(refusal.reason.contains("public_key"), "\(refusal.reason)")
        #expect(h.waitFor("announces CURVE key \(other.publicKey), but it connected with key \(s0.publicKey)", in: "run.log", seconds: 10),
                "\(h.log("run.log"))")

        // s1 announces its own key: it joins, and workers will be told that key.
        let honest = try ZeroMQTransport.connect(endpoint: h.endpoint, security: .curveClient(keys: s1, serverPublicKey: coordinatorKey))
        defer { honest.close() }
        try honest.send(hello(key: s1.publicKey, endpoint: "ipc://" + h.path("s1.sock")), to: .coordinator)
        #expect(h.waitFor("workers reach it with CURVE, key \(s1.publicKey)", in: "run.log", seconds: 20), "\(h.log("run.log"))")
        #expect(!h.log("run.log").contains("workers reach it with CURVE, key \(other.publicKey)"))
    }
}
