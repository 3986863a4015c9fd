// A real `loom worker` process and this test as its coordinator: a welcome that names FIFOs
// — as the dataset (`data.path`) and as the shared weights region — must not block the
// worker in an open() that waits for a writer. It goes on without them and still stops on
// SIGTERM (issue 23: it used to ignore SIGTERM forever).

import Foundation
import LoomConfig
import LoomTestSupport
import LoomTraining
import LoomWire
import Testing
@testable import LoomCluster

@Suite(.serialized) struct WorkerFIFOSignalTests {
    @Test func aWorkerWelcomedWithFIFOsStillStopsOnSIGTERM() throws {
        let directory = try TestPaths.temporaryDirectory("loom-fifo-welcome")
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataFIFO = directory.appendingPathComponent("data.h5").path
        let regionFIFO = "\(SharedRegion.directory)/loom-\(getpid())-weights-fifo\(UInt32.random(in: 1...UInt32.max))"
        #expect(mkfifo(dataFIFO, 0o600) == 0)
        #expect(mkfifo(regionFIFO, 0o600) == 0)
        defer { unlink(regionFIFO) }

        let coordinator = try ZeroMQTransport.bind(endpoint: "tcp://127.0.0.1:*")
        defer { coordinator.close() }
        let log = directory.appendingPathComponent("worker.log").path
        FileManager.default.createFile(atPath: log, contents: nil)
        let worker = Process()
        worker.executableURL = TestPaths.loomExecutable
        worker.arguments = ["worker", "--connect", coordinator.endpoint, "--exit-with-parent"]
        worker.standardInput = FileHandle.nullDevice
        worker.standardOutput = FileHandle.nullDevice
        worker.standardError = FileHandle(forWritingAtPath: log)
        try worker.run()
        defer { if worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        // Hello, then a welcome whose dataset and shared region are the FIFOs.
        var peer: PeerID?
        let helloDeadline = Date().addingTimeInterval(30)
        while peer == nil && Date() < helloDeadline {
            if let envelope = try coordinator.receive(timeout: .milliseconds(100)),
               case .hello? = try? Message.decode(envelope.frames, expectedRunID: nil) {
                peer = envelope.peer
            }
        }
        let worker_ = try #require(peer, "no hello from the worker: \(logText())")
        let config = try ConfigLoader.parse(yaml: """
            name: fifo
            data: {path: \(dataFIFO)}
            model:
              input: [1, 28, 28]
              layers: [{kind: flatten}, {kind: linear, name: l1, out: 8}]
            training: {batch_size: 8, micro_batch: 4}
            cluster: {heartbeat_ms: 100, worker_timeout_ms: 5000}
            """, source: "fifo", defaultName: "fifo")
        let problem = try TrainingProblem.synthetic(config: config)
        var description = RunDescription(problem: problem, datasetFingerprint: "fifo")
        description.dataPath = dataFIFO
        try coordinator.send(.welcome(Welcome(runID: 11, configYAML: config.yaml, runJSON: description.json(),
                                              sharedWeightsPath: regionFIFO)), to: worker_)

        // The worker joins; the FIFOs cost it a log line each, then it heartbeats.
        var heartbeats = 0
        let beatDeadline = Date().addingTimeInterval(30)
        while heartbeats < 2 && Date() < beatDeadline {
            if let envelope = try coordinator.receive(timeout: .milliseconds(100)),
               case .heartbeat? = try? Message.decode(envelope.frames, expectedRunID: 11) {
                heartbeats += 1
            }
        }
        #expect(heartbeats == 2, "the worker went silent after the welcome: \(logText())")
        #expect(logText().contains("joined run b"))
        #expect(logText().contains("not a regular file"), "\(logText())")

        kill(worker.processIdentifier, SIGTERM)
        let exitDeadline = Date().addingTimeInterval(20)
        while worker.isRunning && Date() < exitDeadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(!worker.isRunning, "the worker ignored SIGTERM: \(logText())")
        if !worker.isRunning {
            #expect(worker.terminationStatus == 0)
            #expect(logText().contains("SIGTERM received"))
        }
    }
}
