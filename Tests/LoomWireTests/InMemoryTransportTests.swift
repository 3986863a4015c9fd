import Foundation
import LoomWire
import Testing

@Suite struct InMemoryTransportTests {
    let network = InMemoryNetwork()

    @Test func workerMessageArrivesWithItsPeerIDAndTheReplyComesBack() throws {
        let coordinator = network.bindCoordinator()
        let worker = network.connectWorker()
        try worker.send(.hello(SampleMessages.hello), to: .coordinator)

        let envelope = try #require(try coordinator.receive(timeout: .zero))
        #expect(envelope.peer == worker.peerID)
        try coordinator.send(.welcome(SampleMessages.welcome), to: envelope.peer)
        #expect(try worker.receive(timeout: .zero) == Envelope(peer: .coordinator, frames: Message.welcome(SampleMessages.welcome).encode()))
    }

    @Test func deliveryFollowsGlobalSendOrder() throws {
        let coordinator = network.bindCoordinator()
        let a = network.connectWorker()
        let b = network.connectWorker()
        try a.send([[1]], to: .coordinator)
        try b.send([[2]], to: .coordinator)
        try a.send([[3]], to: .coordinator)
        let received = try (0..<3).map { _ in try #require(try coordinator.receive(timeout: .zero)) }
        #expect(received.map(\.frames) == [[[1]], [[2]], [[3]]])
        #expect(received.map(\.peer) == [a.peerID, b.peerID, a.peerID])
    }

    @Test func workersGetDistinctZeroMQStyleIDs() {
        let ids = (0..<3).map { _ in network.connectWorker().peerID }
        #expect(Set(ids).count == 3 && ids.allSatisfy { $0.bytes.count == 5 && $0.bytes[0] == 0 })
    }

    @Test func sendToADisconnectedWorkerFailsAndItsPendingMessagesVanish() throws {
        let coordinator = network.bindCoordinator()
        let worker = network.connectWorker()
        try coordinator.send([[1]], to: worker.peerID)
        network.disconnect(worker.peerID)

        #expect(network.pendingCount(for: worker.peerID) == 0)
        #expect(throws: TransportError.unreachable(peer: worker.peerID, endpoint: "inmemory://coordinator")) {
            try coordinator.send([[2]], to: worker.peerID)
        }
        #expect(throws: TransportError.self) { try worker.send([[3]], to: .coordinator) }
        #expect(network.connectedWorkers.isEmpty)
    }

    @Test func messagesSentBeforeADisconnectAreStillDelivered() throws {
        let coordinator = network.bindCoordinator()
        let worker = network.connectWorker()
        try worker.send([[9]], to: .coordinator)
        network.disconnect(worker.peerID)
        #expect(try coordinator.receive(timeout: .zero)?.frames == [[9]])
    }

    @Test func injectedFramesArriveFromTheClaimedPeer() throws {
        let coordinator = network.bindCoordinator()
        let stranger = PeerID([0xde, 0xad])
        network.inject([[0xFF, 0x00]], from: stranger)
        #expect(try coordinator.receive(timeout: .zero) == Envelope(peer: stranger, frames: [[0xFF, 0x00]]))
    }

    @Test func framesInjectedToAWorkerComeFromTheCoordinator() throws {
        let worker = network.connectWorker()
        network.inject([[7]], toWorker: worker.peerID)
        #expect(try worker.receive(timeout: .zero) == Envelope(peer: .coordinator, frames: [[7]]))
    }

    @Test func sentMessagesAreRecordedInOrder() throws {
        let coordinator = network.bindCoordinator()
        let worker = network.connectWorker()
        try worker.send([[1]], to: .coordinator)
        try coordinator.send([[2]], to: worker.peerID)
        #expect(network.sentMessages == [
            .init(from: worker.peerID, to: .coordinator, frames: [[1]]),
            .init(from: .coordinator, to: worker.peerID, frames: [[2]]),
        ])
    }

    @Test func fullQueueDropsTheMessageWithQueueFull() throws {
        let small = InMemoryNetwork(queueCapacity: 2)
        let coordinator = small.bindCoordinator()
        let worker = small.connectWorker()
        try coordinator.send([[1]], to: worker.peerID)
        try coordinator.send([[2]], to: worker.peerID)
        #expect(throws: TransportError.queueFull(peer: worker.peerID, endpoint: "inmemory://coordinator")) {
            try coordinator.send([[3]], to: worker.peerID)
        }
        #expect(small.sentMessages.count == 2)
    }

    @Test func receiveReturnsNilAfterTheTimeout() throws {
        let coordinator = network.bindCoordinator()
        let start = ContinuousClock.now
        #expect(try coordinator.receive(timeout: .milliseconds(50)) == nil)
        #expect(ContinuousClock.now - start >= .milliseconds(45))
    }

    @Test func receiveWakesForASendFromAnotherThread() throws {
        let coordinator = network.bindCoordinator()
        let worker = network.connectWorker()
        let sender = Thread {
            Thread.sleep(forTimeInterval: 0.05)
            try? worker.send([[5]], to: .coordinator)
        }
        sender.start()
        #expect(try coordinator.receive(timeout: .seconds(5))?.frames == [[5]])
    }

    @Test func closedTransportThrowsClosed() {
        let worker = network.connectWorker()
        worker.close()
        #expect(throws: TransportError.closed(endpoint: "inmemory://\(worker.peerID)")) {
            try worker.send([[1]], to: .coordinator)
        }
    }

    @Test func peerIDPrintsAsShortHex() {
        #expect(PeerID([0x00, 0x80, 0x00, 0x41, 0xa7]).description == "00800041a7")
        #expect(PeerID(Array(repeating: 0xab, count: 12)).description == "abababababababab…")
        #expect(PeerID.coordinator.description == "coordinator")
    }
}
