import Foundation
import LoomTestSupport
import LoomWire
import Testing

/// A CURVE coordinator admits only allow-listed worker keys and reports every decision.
@Suite(.serialized) struct CurveAuthenticationTests {
    let serverKeys: CurveKeyPair
    let allowedWorker: CurveKeyPair
    let unknownWorker: CurveKeyPair

    init() throws {
        serverKeys = try CurveKeyPair.generate()
        allowedWorker = try CurveKeyPair.generate()
        unknownWorker = try CurveKeyPair.generate()
    }

    private func makeCoordinator(_ events: Locked<[AuthEvent]>) throws -> ZeroMQTransport {
        try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*",
                                 security: .curveServer(keys: serverKeys, authorizedClientKeys: [allowedWorker.publicKey]),
                                 onAuthenticationEvent: { event in events.withValue { $0.append(event) } })
    }

    @Test func authorizedClientTalksBothWays() throws {
        let events = Locked<[AuthEvent]>([])
        let coordinator = try makeCoordinator(events)
        defer { coordinator.close() }
        let worker = try ZeroMQTransport.connect(endpoint: coordinator.endpoint,
                                                 security: .curveClient(keys: allowedWorker, serverPublicKey: serverKeys.publicKey))
        defer { worker.close() }

        #expect(try handshake(coordinator: coordinator, worker: worker) != nil)
        let reply = try #require(try worker.receive(timeout: .seconds(5)))
        #expect(try Message.decode(reply.frames, expectedRunID: nil) == .welcome(SampleMessages.welcome))
        #expect(events.current.map(\.accepted) == [true])
        #expect(events.current.first?.clientPublicKey == allowedWorker.publicKey)
        #expect(events.current.first?.address == "127.0.0.1")
    }

    @Test func clientWithAnUnknownKeyIsRefusedAndReported() throws {
        let events = Locked<[AuthEvent]>([])
        let coordinator = try makeCoordinator(events)
        defer { coordinator.close() }
        let intruder = try ZeroMQTransport.connect(endpoint: coordinator.endpoint,
                                                   security: .curveClient(keys: unknownWorker, serverPublicKey: serverKeys.publicKey))
        defer { intruder.close() }

        try intruder.send(.hello(SampleMessages.hello), to: .coordinator)
        #expect(try coordinator.receive(timeout: .milliseconds(1500)) == nil)
        #expect(eventually(within: 2) { !events.current.isEmpty })
        let event = try #require(events.current.first)
        #expect(!event.accepted)
        #expect(event.clientPublicKey == unknownWorker.publicKey)
    }

    @Test func plaintextClientIsRefusedAndReported() throws {
        let events = Locked<[AuthEvent]>([])
        let coordinator = try makeCoordinator(events)
        defer { coordinator.close() }
        let plaintext = try ZeroMQTransport.connect(endpoint: coordinator.endpoint)
        defer { plaintext.close() }

        try plaintext.send(.hello(SampleMessages.hello), to: .coordinator)
        #expect(try coordinator.receive(timeout: .milliseconds(1500)) == nil)
        #expect(eventually(within: 2) { !events.current.isEmpty })
        let event = try #require(events.current.first)
        #expect(!event.accepted && event.clientPublicKey == nil)
        #expect(event.reason.contains("handshake failed"))
    }

    @Test func clientTrustingAnotherServerKeyNeverGetsThrough() throws {
        let events = Locked<[AuthEvent]>([])
        let coordinator = try makeCoordinator(events)
        defer { coordinator.close() }
        let confused = try ZeroMQTransport.connect(endpoint: coordinator.endpoint,
                                                   security: .curveClient(keys: allowedWorker, serverPublicKey: unknownWorker.publicKey))
        defer { confused.close() }

        try confused.send(.hello(SampleMessages.hello), to: .coordinator)
        #expect(try coordinator.receive(timeout: .milliseconds(1500)) == nil)
        #expect(!events.current.contains { $0.accepted })
    }

    @Test func curveServerSecurityOnAWorkerIsAnError() throws {
        let security = Security.curveServer(keys: serverKeys, authorizedClientKeys: [])
        #expect(throws: TransportError.self) {
            _ = try ZeroMQTransport.connect(endpoint: "tcp://127.0.0.1:1", security: security)
        }
    }
}
