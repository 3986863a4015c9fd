// CURVE on the links between workers and shard servers (docs/CLUSTER.md, "Shard servers"):
// a server's allow-list is handed to it while it runs, and the keys travel in shard messages.

import Foundation
import LoomTestSupport
import LoomWire
import Testing

/// A shard server's socket admits the keys it is handed, and only from then on.
@Suite(.serialized) struct ShardServerAllowListTests {
    let serverKeys: CurveKeyPair
    let worker: CurveKeyPair
    let stranger: CurveKeyPair

    init() throws {
        serverKeys = try CurveKeyPair.generate()
        worker = try CurveKeyPair.generate()
        stranger = try CurveKeyPair.generate()
    }

    private func connect(_ keys: CurveKeyPair, to server: ZeroMQTransport,
                         failures: Locked<[String]>) throws -> ZeroMQTransport {
        try ZeroMQTransport.connect(endpoint: server.endpoint,
                                    security: .curveClient(keys: keys, serverPublicKey: serverKeys.publicKey),
                                    onHandshakeFailure: { failure in failures.withValue { $0.append(failure) } },
                                    peer: .shardServer)
    }

    @Test func aServerAdmitsNobodyUntilHandedKeysAndThenOnlyThose() throws {
        let events = Locked<[AuthEvent]>([])
        let server = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*", security: .curveServer(keys: serverKeys, authorizedClientKeys: []),
                                              onAuthenticationEvent: { event in events.withValue { $0.append(event) } })
        defer { server.close() }
        let early = Locked<[String]>([])
        let before = try connect(worker, to: server, failures: early)
        try before.send(.hello(SampleMessages.hello), to: .coordinator)
        #expect(try server.receive(timeout: .milliseconds(800)) == nil)
        // Refused once the wait for a list (2 s) is over.
        #expect(eventually(within: 5) { events.current.contains { !$0.accepted && $0.clientPublicKey == worker.publicKey } })
        // Closed, so that its queued hello cannot come in once its key is admitted.
        before.close()

        #expect(server.authorizeClients([worker.publicKey]))
        let late = Locked<[String]>([])
        let admitted = try connect(worker, to: server, failures: late)
        defer { admitted.close() }
        #expect(try handshake(coordinator: server, worker: admitted) != nil)

        let refused = Locked<[String]>([])
        let intruder = try connect(stranger, to: server, failures: refused)
        defer { intruder.close() }
        try intruder.send(.hello(SampleMessages.hello), to: .coordinator)
        #expect(try server.receive(timeout: .milliseconds(800)) == nil)
        #expect(events.current.contains { !$0.accepted && $0.clientPublicKey == stranger.publicKey && $0.reason == "key not in the allow-list" })
        // The intruder hears why, naming a shard server (its failures are read in `receive`).
        #expect(eventually(within: 3) {
            _ = try? intruder.receive(timeout: .milliseconds(10))
            return refused.current.contains { $0.contains("the shard server at") && $0.contains("ZAP status 400") }
        }, "\(refused.current)")
    }

    /// A worker may knock before the server has read its coordinator's list (two sockets,
    /// two processes): its handshake waits for the list instead of being refused.
    @Test func aHandshakeBeforeTheListWaitsForItAndIsAdmitted() throws {
        let events = Locked<[AuthEvent]>([])
        let server = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*", security: .curveServer(keys: serverKeys, authorizedClientKeys: []),
                                              onAuthenticationEvent: { event in events.withValue { $0.append(event) } })
        defer { server.close() }
        let failures = Locked<[String]>([])
        let early = try connect(worker, to: server, failures: failures)
        defer { early.close() }
        try early.send(.hello(SampleMessages.hello), to: .coordinator)
        Thread.sleep(forTimeInterval: 0.3)
        server.authorizeClients([worker.publicKey])
        #expect(try server.receive(timeout: .seconds(5)) != nil)
        #expect(events.current.map(\.accepted) == [true], "\(events.current)")
    }

    @Test func aTransportThatIsNoCurveServerTakesNoKeys() throws {
        let plain = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { plain.close() }
        #expect(!plain.authorizeClients([worker.publicKey]))
    }

    @Test func aShardServerKeyDirectoryGivesACurveServerWithAnEmptyAllowList() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try serverKeys.save(to: directory)
        let security = try Security.shardServer(keysDirectory: directory)
        #expect(security == .curveServer(keys: serverKeys, authorizedClientKeys: []))
        #expect(security.serverPublicKey == serverKeys.publicKey)
    }
}

/// The keys in shard messages: a server's own in its hello and in the map, the workers'
/// allow-list in `state`; anything that is not a Z85 CURVE key is refused.
struct ShardKeyFieldTests {
    private func hello(publicKey: String?) -> ShardMessage {
        var body = ShardBody(kind: .serverHello)
        body.endpoint = "tcp://10.0.0.7:5600"; body.pid = 12; body.hostname = "h"; body.publicKey = publicKey
        return ShardMessage(runID: 0, body: body)
    }

    @Test func aServerHelloCarriesItsPublicKey() throws {
        let key = try CurveKeyPair.generate().publicKey
        let m = hello(publicKey: key)
        #expect(try Message.decode(Message.shard(m).encode(), expectedRunID: nil) == .shard(m))
        #expect(String(decoding: Message.shard(m).encode()[1], as: UTF8.self).contains("\"public_key\""))
    }

    @Test(arguments: ["short", String(repeating: "~", count: 40), ""])
    func aServerHelloWithAMalformedKeyIsRejected(_ key: String) {
        #expect(throws: WireError.self) { try Message.decode(Message.shard(hello(publicKey: key)).encode(), expectedRunID: nil) }
    }

    @Test func aStateCarriesTheWorkersAllowList() throws {
        let keys = try (0..<3).map { _ in try CurveKeyPair.generate().publicKey }.sorted()
        var body = ShardBody(kind: .state)
        body.shard = 0; body.shards = 1; body.lower = 0; body.upper = 2
        body.optimizerStep = 0; body.slots = []; body.configYAML = "name: x"; body.authorizedKeys = keys
        let m = ShardMessage(runID: 9, step: 0, weightsVersion: 0, body: body, values: [1, 2])
        guard case .shard(let back) = try Message.decode(Message.shard(m).encode(), expectedRunID: 9) else {
            Issue.record("not a shard message"); return
        }
        #expect(back.body.authorizedKeys == keys)
        body.authorizedKeys = keys + ["not a key"]
        let bad = ShardMessage(runID: 9, step: 0, weightsVersion: 0, body: body, values: [1, 2])
        #expect(throws: WireError.self) { try Message.decode(Message.shard(bad).encode(), expectedRunID: 9) }
    }

    @Test func aMapNamesEachServersKeyAndRefusesAMalformedOne() throws {
        let key = try CurveKeyPair.generate().publicKey
        var body = ShardBody(kind: .map)
        body.servers = [ServerAddress(endpoint: "tcp://10.0.0.7:5600", lower: 0, upper: 10, publicKey: key),
                        ServerAddress(endpoint: "tcp://10.0.0.8:5600", lower: 10, upper: 20)]
        let m = ShardMessage(runID: 9, weightsVersion: 1, body: body)
        #expect(try Message.decode(Message.shard(m).encode(), expectedRunID: 9) == .shard(m))
        body.servers![1].publicKey = "x"
        #expect(throws: WireError.self) {
            try Message.decode(Message.shard(ShardMessage(runID: 9, weightsVersion: 1, body: body)).encode(), expectedRunID: 9)
        }
    }
}
