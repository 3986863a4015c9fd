// `tcp://localhost:PORT` is loopback (docs/PROTOCOL.md) and binds as 127.0.0.1: ZeroMQ's tcp
// bind takes no host name, and binding it failed with ENODEV.

@testable import LoomWire
import Testing

struct LocalhostBindTests {
    @Test func aLocalhostEndpointBindsOnTheLoopbackAddress() throws {
        let transport = try ZeroMQTransport.bind(endpoint: "tcp://localhost:*")
        defer { transport.close() }
        #expect(transport.endpoint.hasPrefix("tcp://127.0.0.1:"), "\(transport.endpoint)")
        let worker = try ZeroMQTransport.connect(endpoint: transport.endpoint)
        defer { worker.close() }
    }

    @Test func onlyLocalhostIsRewritten() {
        #expect(ZeroMQTransport.bindable("tcp://LOCALHOST:5555") == "tcp://127.0.0.1:5555")
        #expect(ZeroMQTransport.bindable("tcp://0.0.0.0:5555") == "tcp://0.0.0.0:5555")
        #expect(ZeroMQTransport.bindable("ipc:///tmp/x.sock") == "ipc:///tmp/x.sock")
        #expect(ZeroMQTransport.bindable("tcp://localhost.example:5555") == "tcp://localhost.example:5555")
    }
}
