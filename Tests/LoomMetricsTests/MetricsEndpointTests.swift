// LoomMetrics renders what it records: families with HELP and TYPE lines, counters that
// follow totals, histograms that count, per-head evaluation gauges, the worker's view of
// its transport. In-memory (no sockets): the CLI's HTTP side is tested by deploy/tests.

import Foundation
import LoomMetrics
import LoomWire
import Testing

/// The value of the sample `name` (with its `{labels}` if any) in `text`.
private func sample(_ text: String, _ name: String) -> String? {
    text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
}

@Suite struct TrainingMetricsTests {
    @Test func everyFamilyHasHelpAndTypeAndStartsHonest() {
        let endpoint = MetricsEndpoint()
        _ = TrainingMetrics(endpoint: endpoint, latestCheckpointPath: nil, runID: "abc")
        let text = endpoint.exposition()
        for (name, type) in [("loom_step", "gauge"), ("loom_loss", "gauge"), ("loom_learning_rate", "gauge"),
                             ("loom_step_duration_seconds", "histogram"), ("loom_run_info", "gauge")] {
            #expect(text.contains("# HELP \(name) "), "no HELP for \(name)")
            #expect(text.contains("# TYPE \(name) \(type)"), "no TYPE \(type) for \(name)")
        }
        #expect(sample(text, "loom_loss")?.lowercased() == "nan", "loss before the first step: \(text)")
        #expect(sample(text, #"loom_run_info{run_id="abc"}"#) == "1.0" || sample(text, #"loom_run_info{run_id="abc"}"#) == "1")
        #expect(!text.contains("loom_checkpoint_age_seconds"), "a checkpoint age without a checkpoint")
    }

    @Test func stepsSetTheGaugesAndFillTheHistogramFromTheSecondStep() throws {
        let endpoint = MetricsEndpoint()
        let m = TrainingMetrics(endpoint: endpoint, latestCheckpointPath: nil, runID: "abc")
        m.recordStep(step: 1, epoch: 1, loss: 2.5, learningRate: 0.05, samplesPerSecond: 100)
        usleep(20_000)
        m.recordStep(step: 2, epoch: 1, loss: 2.0, learningRate: 0.05, samplesPerSecond: 120)
        let text = endpoint.exposition()
        #expect(Double(sample(text, "loom_step") ?? "") == 2)
        #expect(Double(sample(text, "loom_loss") ?? "") == 2.0)
        #expect(sample(text, "loom_step_duration_seconds_count") == "1", "one interval between two steps")
        let sum = try #require(Double(sample(text, "loom_step_duration_seconds_sum") ?? ""))
        #expect(sum >= 0.015 && sum < 60, "sum \(sum) for a pause of 20 ms")
        #expect(sample(text, #"loom_step_duration_seconds_bucket{le="0.005"}"#) == "0")
        #expect(sample(text, #"loom_step_duration_seconds_bucket{le="+Inf"}"#) == "1")
    }

    @Test func aNewRunIDReplacesTheOldInfoSeries() {
        let endpoint = MetricsEndpoint()
        let m = TrainingMetrics(endpoint: endpoint, latestCheckpointPath: nil, runID: "old")
        m.recordRunID("new")
        let text = endpoint.exposition()
        #expect(!text.contains(#"run_id="old""#))
        #expect(text.contains(#"loom_run_info{run_id="new"}"#))
    }

    @Test func evaluationsGiveAccuracyAndLossPerSplitAndHead() {
        let endpoint = MetricsEndpoint()
        let m = TrainingMetrics(endpoint: endpoint, latestCheckpointPath: nil, runID: "r")
        m.recordEvaluation(split: "test", heads: [HeadEvaluation(head: "category", accuracy: 0.9, loss: 0.3),
                                                 HeadEvaluation(head: "attributes", accuracy: nil, loss: 0.2)])
        m.recordEvaluation(split: "test", heads: [HeadEvaluation(head: "category", accuracy: 0.92, loss: 0.25)])
        let text = endpoint.exposition()
        #expect(Double(sample(text, #"loom_eval_accuracy{split="test",head="category"}"#) ?? "") == 0.92)
        #expect(Double(sample(text, #"loom_eval_loss{split="test",head="attributes"}"#) ?? "") == 0.2)
        #expect(!text.contains(#"loom_eval_accuracy{split="test",head="attributes"}"#), "an accuracy for a head without one")
    }

    @Test func theCheckpointAgeIsTheAgeOfTheLatestFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-metrics-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("ckpt-00000001.h5").path
        FileManager.default.createFile(atPath: file, contents: Data([1]))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-90)], ofItemAtPath: file)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("latest.h5").path,
                                                   withDestinationPath: "ckpt-00000001.h5")
        let endpoint = MetricsEndpoint()
        let metrics = TrainingMetrics(endpoint: endpoint, latestCheckpointPath: dir.appendingPathComponent("latest.h5").path, runID: "r")
        let age = try withExtendedLifetime(metrics) {
            try #require(Double(sample(endpoint.exposition(), "loom_checkpoint_age_seconds") ?? ""))
        }
        #expect(age >= 89 && age < 200, "age \(age) of a file written 90 s ago")
    }
}

@Suite struct ClusterMetricsTests {
    @Test func countersFollowTheTotalsByTheirIncrease() {
        let endpoint = MetricsEndpoint()
        let m = ClusterMetrics(endpoint: endpoint)
        var t = ClusterTotals()
        t.liveWorkers = 2; t.workersJoined = 2; t.bytesSent = 1000; t.bytesReceived = 400
        t.rejectedMessages = ["stale result": 1]
        m.record(t)
        t.liveWorkers = 1; t.workersLost = 1; t.bytesSent = 2500; t.rejectedMessages = ["stale result": 3, "bad magic": 1]
        m.record(t)
        let text = endpoint.exposition()
        #expect(Double(sample(text, "loom_live_workers") ?? "") == 1)
        #expect(sample(text, "loom_workers_joined_total") == "2")
        #expect(sample(text, "loom_workers_lost_total") == "1")
        #expect(sample(text, "loom_wire_sent_bytes_total") == "2500")
        #expect(sample(text, "loom_wire_received_bytes_total") == "400")
        #expect(sample(text, #"loom_rejected_messages_total{reason="stale_result"}"#) == "3")
        #expect(sample(text, #"loom_rejected_messages_total{reason="bad_magic"}"#) == "1")
    }
}

/// A transport double: hands out queued envelopes, keeps what is sent.
private final class QueueTransport: Transport {
    let endpoint = "queue://test"
    var inbox: [Envelope] = []
    var sent: [[[UInt8]]] = []
    func send(_ frames: [[UInt8]], to peer: PeerID) throws(TransportError) { sent.append(frames) }
    func receive(timeout: Duration) throws(TransportError) -> Envelope? { inbox.isEmpty ? nil : inbox.removeFirst() }
    func close() {}
}

/// A header frame of `type` with weights version `version`, and a payload of `bytes` bytes.
private func frames(_ type: MessageType, version: UInt64 = 0, bytes: Int = 10) -> [[UInt8]] {
    var header = [UInt8](repeating: 0, count: WireHeader.size)
    header.replaceSubrange(0..<4, with: WireHeader.magic)
    header[6] = type.rawValue
    for i in 0..<8 { header[24 + i] = UInt8((version >> (8 * UInt64(i))) & 0xFF) }
    return [header, [UInt8](repeating: 7, count: bytes)]
}

@Suite struct WorkerMetricsTests {
    @Test func theTransportDecoratorCountsBytesAssignmentsResultsAndTheirTime() throws {
        let endpoint = MetricsEndpoint()
        let metrics = WorkerMetrics(endpoint: endpoint)
        let base = QueueTransport()
        base.inbox = [Envelope(peer: .coordinator, frames: frames(.weights, bytes: 100)),
                      Envelope(peer: .coordinator, frames: frames(.assignment, version: 42, bytes: 20))]
        let transport = MeteredTransport(base, metrics: metrics)
        _ = try transport.receive(timeout: .zero)
        _ = try transport.receive(timeout: .zero)
        usleep(10_000)
        try transport.send(frames(.result, bytes: 30), to: .coordinator)
        try transport.send([[1, 2, 3]], to: .coordinator)  // not a Loom header: bytes only
        let text = endpoint.exposition()
        #expect(base.sent.count == 2, "the decorator must pass messages on")
        #expect(sample(text, "loom_worker_wire_received_bytes_total") == "\(2 * WireHeader.size + 120)")
        #expect(sample(text, "loom_worker_wire_sent_bytes_total") == "\(WireHeader.size + 30 + 3)")
        #expect(sample(text, "loom_worker_assignments_total") == "1")
        #expect(sample(text, "loom_worker_results_total") == "1")
        #expect(Double(sample(text, "loom_worker_weights_version") ?? "") == 42)
        #expect(sample(text, "loom_worker_assignment_duration_seconds_count") == "1")
        #expect(sample(text, "loom_worker_sessions_total") == "1")
        #expect((Double(sample(text, "loom_worker_last_message_timestamp_seconds") ?? "") ?? 0) > 1.7e9)
    }
}
