import Foundation

/// A simulated star network for testing coordinator and worker state machines without
/// sockets: one coordinator, any number of workers, FIFO delivery in global send order,
/// and hooks to disconnect workers, inject raw frames and inspect everything sent.
/// Thread-safe; `receive` waits (up to its timeout) for another thread's send.
public final class InMemoryNetwork: @unchecked Sendable {
    /// One successful send, as recorded by `sentMessages`.
    public struct SentMessage: Equatable, Sendable {
        public var from: PeerID
        public var to: PeerID
        public var frames: [[UInt8]]

        public init(from: PeerID, to: PeerID, frames: [[UInt8]]) {
            self.from = from
            self.to = to
            self.frames = frames
        }
    }

    /// Messages a receiver may have waiting before sends to it fail with `.queueFull`.
    public let queueCapacity: Int

    private let condition = NSCondition()
    private var inboxes: [PeerID: [Envelope]] = [.coordinator: []]
    private var connected: Set<PeerID> = []
    private var coordinatorOpen = false
    private var log: [SentMessage] = []
    private var nextWorker: UInt32 = 1

    public init(queueCapacity: Int = 1000) {
        self.queueCapacity = queueCapacity
    }

    /// The coordinator's transport (the ROUTER side).
    public func bindCoordinator() -> InMemoryTransport {
        locked { coordinatorOpen = true }
        return InMemoryTransport(network: self, me: .coordinator)
    }

    /// A new worker transport (the DEALER side). Without `identity` the worker gets a fresh
    /// 5-byte id like ZeroMQ's (0x00 + counter); with an identity already connected, the
    /// new connection replaces the old one (as ZMQ_ROUTER_HANDOVER does).
    public func connectWorker(identity: PeerID? = nil) -> InMemoryTransport {
        let peer: PeerID = locked {
            let id = identity ?? PeerID([0] + withUnsafeBytes(of: nextWorker.bigEndian, Array.init))
            nextWorker += 1
            connected.insert(id)
            inboxes[id] = []
            return id
        }
        return InMemoryTransport(network: self, me: peer)
    }

    /// Simulates a crashed or unplugged worker: its pending messages vanish, sends to it
    /// and from it fail with `.unreachable`. Messages it already sent stay delivered.
    public func disconnect(_ peer: PeerID) {
        locked {
            connected.remove(peer)
            inboxes[peer] = nil
        }
    }

    /// Delivers raw `frames` to the coordinator as if sent by `peer` (connected or not).
    public func inject(_ frames: [[UInt8]], from peer: PeerID) {
        locked { inboxes[.coordinator, default: []].append(Envelope(peer: peer, frames: frames)) }
    }

    /// Delivers raw `frames` to worker `peer` as if sent by the coordinator.
    public func inject(_ frames: [[UInt8]], toWorker peer: PeerID) {
        locked { inboxes[peer]?.append(Envelope(peer: .coordinator, frames: frames)) }
    }

    /// Every successful send so far, in order.
    public var sentMessages: [SentMessage] { locked { log } }

    /// Forgets the record of sent messages (not the messages in flight).
    public func clearSentMessages() { locked { log.removeAll() } }

    /// Workers currently connected, sorted by id bytes.
    public var connectedWorkers: [PeerID] {
        locked { connected.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) } }
    }

    /// Messages waiting for `peer` (the coordinator or a worker).
    public func pendingCount(for peer: PeerID) -> Int { locked { inboxes[peer]?.count ?? 0 } }

    // MARK: - Used by InMemoryTransport

    func send(_ frames: [[UInt8]], from: PeerID, to: PeerID) throws(TransportError) {
        let endpoint = Self.endpoint(from)
        let failure: TransportError? = locked {
            let receiverUp = to == .coordinator ? coordinatorOpen : connected.contains(to)
            let senderUp = from == .coordinator ? coordinatorOpen : connected.contains(from)
            guard senderUp, receiverUp, from != to, from == .coordinator || to == .coordinator else {
                return .unreachable(peer: to, endpoint: endpoint)
            }
            guard inboxes[to, default: []].count < queueCapacity else { return .queueFull(peer: to, endpoint: endpoint) }
            // The receiver sees the sender: workers see only the coordinator.
            inboxes[to, default: []].append(Envelope(peer: from, frames: frames))
            log.append(SentMessage(from: from, to: to, frames: frames))
            condition.broadcast()
            return nil
        }
        if let failure { throw failure }
    }

    func receive(for me: PeerID, timeout: Duration) -> Envelope? {
        let deadline = Date(timeIntervalSinceNow: Double(timeout.roundedUpMilliseconds) / 1000)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if var inbox = inboxes[me], !inbox.isEmpty {
                let first = inbox.removeFirst()
                inboxes[me] = inbox
                return first
            }
            if !condition.wait(until: deadline) { return nil }
        }
    }

    func close(_ me: PeerID) {
        locked {
            if me == .coordinator { coordinatorOpen = false } else { connected.remove(me); inboxes[me] = nil }
            condition.broadcast()
        }
    }

    static func endpoint(_ peer: PeerID) -> String { "inmemory://\(peer)" }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }
}

/// One end of an `InMemoryNetwork`: the coordinator or a worker. Keeps the `Transport`
/// contract: sends never block and fail for disconnected peers or full queues.
public final class InMemoryTransport: Transport {
    public var endpoint: String { InMemoryNetwork.endpoint(peerID) }
    /// The identity the other side sees: `PeerID.coordinator` or the worker's id.
    public let peerID: PeerID
    private let network: InMemoryNetwork
    private var isClosed = false

    init(network: InMemoryNetwork, me: PeerID) {
        self.network = network
        self.peerID = me
    }

    public func send(_ frames: [[UInt8]], to peer: PeerID) throws(TransportError) {
        guard !isClosed else { throw .closed(endpoint: InMemoryNetwork.endpoint(peerID)) }
        try network.send(frames, from: peerID, to: peer)
    }

    public func receive(timeout: Duration) throws(TransportError) -> Envelope? {
        guard !isClosed else { throw .closed(endpoint: InMemoryNetwork.endpoint(peerID)) }
        return network.receive(for: peerID, timeout: timeout)
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        network.close(peerID)
    }
}
