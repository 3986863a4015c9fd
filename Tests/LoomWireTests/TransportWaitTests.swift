// Waiting on several transports at once (`TransportWait.any`), and connected transports
// sharing one ZeroMQ context (`ZeroMQContext`): what a shard server's loop and a worker's
// links to its servers rely on.

import Foundation
import LoomWire
import Testing

@Suite(.serialized) struct TransportWaitTests {
    /// Nothing to read: the wait lasts its timeout and says so. A message on the second of
    /// two sockets ends it at once, and is there to receive.
    @Test func aWaitOverTwoSocketsEndsWhenEitherHasAMessage() throws {
        let a = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { a.close() }
        let b = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { b.close() }
        let started = ContinuousClock.now
        #expect(!TransportWait.any([a, b], timeout: .milliseconds(150)))
        #expect(ContinuousClock.now - started >= .milliseconds(140), "returned before its timeout with nothing to read")

        let worker = try ZeroMQTransport.connect(endpoint: b.endpoint)
        defer { worker.close() }
        try worker.send(.hello(SampleMessages.hello), to: .coordinator)
        #expect(TransportWait.any([a, b], timeout: .seconds(10)), "a message on the second socket did not end the wait")
        let envelope = try #require(try b.receive(timeout: .zero))
        #expect(try Message.decode(envelope.frames, expectedRunID: nil) == .hello(SampleMessages.hello))
        #expect(try a.receive(timeout: .zero) == nil)
    }

    /// A closed transport counts as ready: its `receive` throws, which the caller must see.
    @Test func aClosedTransportEndsTheWaitAtOnce() throws {
        let a = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        a.close()
        #expect(TransportWait.any([a], timeout: .seconds(10)))
    }

    /// Three workers' links in one context: each talks to its own server, and closing one
    /// leaves the others working.
    @Test func transportsInOneContextWorkAndCloseApart() throws {
        let context = try ZeroMQContext()
        let servers = try (0..<3).map { _ in try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*") }
        defer { servers.forEach { $0.close() } }
        let links = try servers.map { try ZeroMQTransport.connect(endpoint: $0.endpoint, in: context) }
        defer { links.forEach { $0.close() } }
        func roundTrip(_ i: Int) throws {
            try links[i].send(.hello(SampleMessages.hello), to: .coordinator)
            let got = try #require(try servers[i].receive(timeout: .seconds(10)), "server \(i) heard nothing")
            try servers[i].send(.assignment(SampleMessages.assignment), to: got.peer)
            let back = try #require(try links[i].receive(timeout: .seconds(10)), "link \(i) heard nothing back")
            #expect(back.frames == Message.assignment(SampleMessages.assignment).encode())
        }
        for i in 0..<3 { try roundTrip(i) }
        links[1].close()
        #expect(throws: TransportError.self) { try links[1].send(.hello(SampleMessages.hello), to: .coordinator) }
        try roundTrip(0)
        try roundTrip(2)
    }
}
