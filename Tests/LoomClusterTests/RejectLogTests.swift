// The coordinator's log of dropped messages is capped per source address, not per ZeroMQ
// identity: a peer that reconnects gets a new identity but keeps its address. Real
// ZeroMQ connections over TCP, each a new DEALER with a new identity; the rest is summed
// up in one line per window (docs/PROTOCOL.md, "Rejected messages").

import Foundation
import Logging
import LoomConfig
import LoomData
import LoomTestSupport
import LoomTraining
import LoomWire
import Testing
@testable import LoomCluster

/// Keeps every line logged through it.
private struct CapturingLogHandler: LogHandler {
    let lines: Locked<[String]>
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        lines.withValue { $0.append("\(message)") }
    }
}

@Suite(.serialized) struct RejectLogTests {
    /// A coordinator (a tiny linear model, no shared memory, no reject summary by itself) bound
    /// on a free loopback TCP port, logging into `lines`.
    static func coordinator(_ name: String) throws
        -> (executor: ClusterExecutor, transport: ZeroMQTransport, lines: Locked<[String]>, problem: TrainingProblem) {
        let config = try ConfigLoader.parse(yaml: """
            name: \(name)
            model:
              input: [1, 28, 28]
              layers: [{kind: flatten}, {kind: linear, name: l1, out: 8}]
            training: {batch_size: 8, micro_batch: 4}
            """, source: name, defaultName: name)
        let problem = try TrainingProblem.synthetic(config: config)
        let lines = Locked<[String]>([])
        let logger = Logger(label: "test.\(name)") { _ in CapturingLogHandler(lines: lines) }
        var options = ClusterOptions(heartbeatInterval: .milliseconds(100), workerTimeout: .seconds(5))
        options.sharedMemory = false
        options.rejectSummaryInterval = .seconds(3600)  // no window ends by itself in these tests
        let transport = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        let executor = ClusterExecutor(transport: transport, runID: 5, problem: problem,
                                       source: SyntheticSampleSource(imageShape: problem.imageShape),
                                       logger: logger, options: options)
        return (executor, transport, lines, problem)
    }

    @Test func reconnectingWithNewIdentitiesDoesNotLiftTheCapOfOneAddress() throws {
        let (executor, transport, lines, _) = try Self.coordinator("flood")
        defer { transport.close() }

        // 100 connections, one after the other, 5 bad messages each (1 to 2 bytes: no header).
        let (connections, perConnection) = (100, 5)
        let endpoint = transport.endpoint
        let sent = DispatchSemaphore(value: 0)
        Thread {
            for c in 0..<connections {
                guard let raw = try? ZeroMQTransport.connect(endpoint: endpoint) else { continue }
                for m in 0..<perConnection { try? raw.send([[UInt8(c), UInt8(m)]], to: .coordinator) }
                raw.close()  // lingers until the messages are out
            }
            sent.signal()
        }.start()

        let deadline = Date().addingTimeInterval(60)
        while executor.rejects.total < connections * perConnection && Date() < deadline {
            executor.waitForWorkers(1, timeout: .milliseconds(50))
        }
        sent.wait()
        #expect(executor.rejects.total == connections * perConnection)

        let dropped = lines.current.filter { $0.hasPrefix("dropped a message from peer") }
        #expect(dropped.count == 20, "\(dropped.count) lines for \(executor.rejects.total) bad messages")
        #expect(dropped.allSatisfy { $0.contains(" at 127.0.0.1: ") })
        #expect(lines.current.filter { $0.contains("keeps sending bad messages") }.count == 1)

        executor.logRejectSummary(force: true)
        let summary = try #require(lines.current.last)
        let rest = connections * perConnection - 20
        #expect(summary.hasPrefix("dropped \(rest) more bad messages in the last"), "\(summary)")
        #expect(summary.contains("127.0.0.1 \(rest) (bad header size \(rest))"), "\(summary)")
    }

    /// After a coordinator restart, the workers and servers of the one before heartbeat on
    /// their old connections until they say hello again: one line per peer, each heartbeat
    /// still counted as an `unknown peer` drop; a result from a stranger is still logged.
    @Test func heartbeatsOfPeersThatHaveNotSaidHelloAreNotedOncePerPeer() throws {
        let (executor, transport, lines, problem) = try Self.coordinator("strangers")
        defer { transport.close() }
        let (peers, beats) = (3, 40)
        let raws = try (0..<peers).map { _ in try ZeroMQTransport.connect(endpoint: transport.endpoint) }
        defer { raws.forEach { $0.close() } }
        for raw in raws {
            for b in 0..<beats { try raw.send(Message.heartbeat(Heartbeat(runID: 5, step: UInt64(b), weightsVersion: 0)).encode(), to: .coordinator) }
        }
        let deadline = Date().addingTimeInterval(60)
        while executor.rejects["unknown peer"] < peers * beats && Date() < deadline {
            executor.waitForWorkers(1, timeout: .milliseconds(50))
        }
        #expect(executor.rejects["unknown peer"] == peers * beats)
        let noted = lines.current.filter { $0.hasPrefix("heartbeats from peer") }
        #expect(noted.count == peers, "\(lines.current)")
        #expect(noted.allSatisfy { $0.contains(" at 127.0.0.1, which has not said hello") })
        #expect(!lines.current.contains { $0.hasPrefix("dropped a message") })
        // Anything but a heartbeat from a stranger is dropped and logged as before.
        let p = problem.model.parameters.count, b = problem.model.buffers.count
        try raws[0].send(Message.result(BlockResult(runID: 5, step: 0, epoch: 0, weightsVersion: 0, firstShard: 0, shardCount: 1,
                                                    gradientSum: [Float](repeating: 0, count: p), batchNormStatistics: [Float](repeating: 0, count: b),
                                                    metricSums: [Double](repeating: 0, count: 4), sampleCounts: [1])).encode(), to: .coordinator)
        while executor.rejects.total < peers * beats + 1 && Date() < deadline {
            executor.waitForWorkers(1, timeout: .milliseconds(50))
        }
        #expect(lines.current.contains { $0.hasPrefix("dropped a message from peer") && $0.contains("unknown peer: result") }, "\(lines.current.suffix(2))")
    }

    @Test func eachWindowSumsUpWhatItDidNotLogAndStartsAfresh() {
        let start = ContinuousClock.now
        var log = RejectLog(window: .seconds(10), now: start)
        log.perSource = 2
        log.perWindow = 3
        #expect(log.decide(source: "10.0.0.1", reason: "bad magic") == .log)
        #expect(log.decide(source: "10.0.0.1", reason: "bad magic") == .logLast)
        #expect(log.decide(source: "10.0.0.1", reason: "bad magic") == .suppress)
        #expect(log.decide(source: "10.0.0.2", reason: "bad json") == .logLast)  // the window's third line
        #expect(log.decide(source: "10.0.0.3", reason: "bad json") == .suppress)
        #expect(log.summary(now: start + .seconds(9)) == nil)
        let line = log.summary(now: start + .seconds(10))
        #expect(line == "dropped 2 more bad messages in the last 10 s without logging each: 10.0.0.1 1 (bad magic 1); 10.0.0.3 1 (bad json 1)")
        #expect(log.decide(source: "10.0.0.1", reason: "bad magic") == .log)
        #expect(log.summary(now: start + .seconds(20)) == nil)
    }
}
