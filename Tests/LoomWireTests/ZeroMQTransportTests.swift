import Foundation
import LoomWire
import Testing

@Suite(.serialized) struct ZeroMQTransportTests {
    @Test(arguments: ["tcp://127.0.0.1:*", "ipc"])
    func dealerAndRouterExchangeMultipartMessagesBothWays(endpoint: String) throws {
        let coordinator = try ZeroMQTransport.bind(endpoint: endpoint == "ipc" ? uniqueIPCEndpoint() : endpoint)
        defer { coordinator.close() }
        let worker = try ZeroMQTransport.connect(endpoint: coordinator.endpoint)
        defer { worker.close() }

        try worker.send(.hello(SampleMessages.hello), to: .coordinator)
        let fromWorker = try #require(try coordinator.receive(timeout: .seconds(5)))
        #expect(try Message.decode(fromWorker.frames, expectedRunID: nil) == .hello(SampleMessages.hello))

        try coordinator.send(.assignment(SampleMessages.assignment), to: fromWorker.peer)
        let fromCoordinator = try #require(try worker.receive(timeout: .seconds(5)))
        #expect(fromCoordinator.peer == .coordinator)
        #expect(fromCoordinator.frames == Message.assignment(SampleMessages.assignment).encode())
    }

    @Test func wildcardPortResolvesToTheChosenPort() throws {
        let coordinator = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { coordinator.close() }
        let port = Int(coordinator.endpoint.split(separator: ":").last ?? "") ?? 0
        #expect(coordinator.endpoint.hasPrefix("tcp://127.0.0.1:") && port > 0)
    }

    @Test func tenMegabytePayloadArrivesIntact() throws {
        let coordinator = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { coordinator.close() }
        let worker = try ZeroMQTransport.connect(endpoint: coordinator.endpoint)
        defer { worker.close() }
        let peer = try #require(try handshake(coordinator: coordinator, worker: worker))
        _ = try worker.receive(timeout: .seconds(5))   // the welcome

        let weights = WeightsUpdate(runID: SampleMessages.runID, step: 1, weightsVersion: 2,
                                    parameters: (0..<2_621_440).map { Float($0 % 1000) * 0.25 }, buffers: [1, 2])
        try coordinator.send(.weights(weights), to: peer)
        let envelope = try #require(try worker.receive(timeout: .seconds(10)))
        #expect(envelope.frames[1].count == 10 * 1024 * 1024)
        #expect(try Message.decode(envelope.frames, expectedRunID: SampleMessages.runID) == .weights(weights))
    }

    @Test func receiveTimesOutWithNilOnTime() throws {
        let coordinator = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { coordinator.close() }
        let start = ContinuousClock.now
        #expect(try coordinator.receive(timeout: .milliseconds(200)) == nil)
        let elapsed = ContinuousClock.now - start
        // Not early; the upper bound only says it returns (a loaded host may be slow to wake it).
        #expect(elapsed >= .milliseconds(195) && elapsed < .seconds(5))
    }

    @Test func sendToAPeerThatNeverConnectedFailsAtOnce() throws {
        let coordinator = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { coordinator.close() }
        #expect(throws: TransportError.unreachable(peer: PeerID([0, 1, 2, 3, 4]), endpoint: coordinator.endpoint)) {
            try coordinator.send(.heartbeat(SampleMessages.heartbeat), to: PeerID([0, 1, 2, 3, 4]))
        }
    }

    @Test func sendToAVanishedWorkerNeverBlocksAndSoonFails() throws {
        let coordinator = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { coordinator.close() }
        let worker = try ZeroMQTransport.connect(endpoint: coordinator.endpoint)
        let peer = try #require(try handshake(coordinator: coordinator, worker: worker))
        worker.close()

        var slowest = Duration.zero
        let failed = eventually(within: 5) {
            let start = ContinuousClock.now
            defer { slowest = max(slowest, ContinuousClock.now - start) }
            do {
                try coordinator.send(.weights(SampleMessages.weights), to: peer)
                return false
            } catch {
                return (error as? TransportError) == .unreachable(peer: peer, endpoint: coordinator.endpoint)
            }
        }
        #expect(failed)
        #expect(slowest < .seconds(3))   // a blocking send would never return (a loaded host may be slow)
    }

    @Test func fixedWorkerIdentityIsThePeerIDTheCoordinatorSees() throws {
        let coordinator = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { coordinator.close() }
        let worker = try ZeroMQTransport.connect(endpoint: coordinator.endpoint, identity: Array("worker-3".utf8))
        defer { worker.close() }
        #expect(try handshake(coordinator: coordinator, worker: worker) == PeerID(Array("worker-3".utf8)))
    }

    @Test func workerSendsOnlyToTheCoordinator() throws {
        let worker = try ZeroMQTransport.connect(endpoint: "tcp://127.0.0.1:1")
        defer { worker.close() }
        #expect(throws: TransportError.self) {
            try worker.send(.heartbeat(SampleMessages.heartbeat), to: PeerID([1, 2]))
        }
    }

    @Test func unsupportedEndpointSchemeIsRejected() {
        #expect(throws: TransportError.invalidEndpoint("http://127.0.0.1:80", reason: "only tcp:// and ipc:// are supported")) {
            _ = try ZeroMQTransport.bind(endpoint: "http://127.0.0.1:80")
        }
    }

    @Test func bindingAPortInUseNamesTheEndpoint() throws {
        let first = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { first.close() }
        do {
            _ = try ZeroMQTransport.bind(endpoint: first.endpoint)
            Issue.record("second bind succeeded")
        } catch {
            guard case .socket("zmq_bind", first.endpoint, _, _) = error else { Issue.record("\(error)"); return }
        }
    }

    @Test func closedTransportThrowsClosed() throws {
        let coordinator = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        coordinator.close()
        coordinator.close()
        #expect(throws: TransportError.closed(endpoint: coordinator.endpoint)) {
            _ = try coordinator.receive(timeout: .zero)
        }
    }
}
