import Foundation
import LoomWire
import Testing

/// A CURVE server's envelopes carry the key each client's handshake proved (the ZAP
/// handler's user id), so what a peer says about its key can be checked against it.
@Suite(.serialized) struct EnvelopePeerKeyTests {
    @Test func aCurveServerSeesEachClientsProvenKeyAndAPlainOneNone() throws {
        let server = try CurveKeyPair.generate(), a = try CurveKeyPair.generate(), b = try CurveKeyPair.generate()
        let coordinator = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*",
                                                   security: .curveServer(keys: server, authorizedClientKeys: [a.publicKey, b.publicKey]))
        defer { coordinator.close() }
        var seen: [String: String?] = [:]
        for (name, pair) in [("a", a), ("b", b)] {
            let client = try ZeroMQTransport.connect(endpoint: coordinator.endpoint,
                                                     security: .curveClient(keys: pair, serverPublicKey: server.publicKey))
            defer { client.close() }
            try client.send(.hello(SampleMessages.hello), to: .coordinator)
            let envelope = try #require(try coordinator.receive(timeout: .seconds(10)))
            seen[name] = envelope.peerKey
        }
        #expect(seen["a"] == a.publicKey && seen["b"] == b.publicKey, "\(seen)")

        let plain = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { plain.close() }
        let client = try ZeroMQTransport.connect(endpoint: plain.endpoint)
        defer { client.close() }
        try client.send(.hello(SampleMessages.hello), to: .coordinator)
        let envelope = try #require(try plain.receive(timeout: .seconds(10)))
        #expect(envelope.peerKey == nil)
    }
}
