// Real processes on loopback: a `loom coordinator`, `loom worker`s, a one-process reference
// run, and the final weights of each, compared bit for bit.

import Foundation
import LoomCheckpoint
import LoomCluster
import LoomTestSupport

/// One test's scratch folder, dataset and runs.
final class ClusterHarness {
    let directory: URL
    let datasetPath: String
    let loom = TestPaths.loomExecutable.path
    /// `--set` overrides shared by every run of the test.
    var overrides: [String]
    private var children: [Process] = []

    /// The run config (absolute path), shared by every run of the test.
    let config: String

    /// - Parameters:
    ///   - model: `mlp` (fast) or `reference-cnn` (has batch norm).
    ///   - config: the run config, relative to the repository.
    ///   - writeDataset: writes the test's dataset to the path it is given.
    init(_ name: String, model: String = "mlp", maxSteps: Int, extra: [String] = [],
         config: String = "configs/smoke.yaml",
         writeDataset: (String) throws -> Void = { try SyntheticDataset.write(to: $0) }) throws {
        directory = try TestPaths.temporaryDirectory("loom-cluster-\(name)")
        datasetPath = directory.appendingPathComponent("data.h5").path
        self.config = TestPaths.repositoryRoot.appendingPathComponent(config).path
        try writeDataset(datasetPath)
        overrides = ["data.path=\(datasetPath)", "model.file=models/\(model).yaml", "training.max_steps=\(maxSteps)",
                     "training.epochs=1000", "training.log_every_steps=1", "checkpoint.every_steps=1000"] + extra
    }

    deinit {
        for p in children where p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    var endpoint: String { "ipc://" + path("coordinator.sock") }

    private func setArguments(runDirectory: String) -> [String] {
        (overrides + ["checkpoint.dir=\(runDirectory)"]).flatMap { ["--set", $0] }
    }

    /// Starts `loom <arguments>` with stderr (the log) to `log`.
    @discardableResult
    func spawn(_ arguments: [String], log: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: loom)
        p.arguments = arguments
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        FileManager.default.createFile(atPath: path(log), contents: nil)
        p.standardError = FileHandle(forWritingAtPath: path(log))
        try p.run()
        children.append(p)
        return p
    }

    /// The final weights of a one-process run (`loom train --workers 0`).
    func referenceModel() throws -> [NamedTensor] {
        let run = path("reference")
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let p = try spawn(["train", "--config", config] + setArguments(runDirectory: run), log: "reference.log")
        guard wait(p, seconds: 120), p.terminationStatus == 0 else {
            throw HarnessError("reference run failed: \(log("reference.log"))")
        }
        return try model(of: run)
    }

    /// Starts the coordinator (run directory `run`, log `<run>.log`).
    func startCoordinator(run: String, bind: String? = nil, extra: [String] = []) throws -> Process {
        try FileManager.default.createDirectory(atPath: path(run), withIntermediateDirectories: true)
        return try spawn(["coordinator", "--config", config, "--bind", bind ?? endpoint] + extra
                         + setArguments(runDirectory: path(run)), log: "\(run).log")
    }

    /// Starts a worker connected to the coordinator (log `<name>.log`).
    @discardableResult
    func startWorker(_ name: String, connect: String? = nil, extra: [String] = ["--exit-on-shutdown"]) throws -> Process {
        try spawn(["worker", "--connect", connect ?? endpoint] + extra, log: "\(name).log")
    }

    /// Waits until the coordinator exits successfully; fails with its log otherwise.
    func finish(_ coordinator: Process, run: String, seconds: Double = 120) throws -> [NamedTensor] {
        guard wait(coordinator, seconds: seconds) else { throw HarnessError("coordinator did not finish: \(log("\(run).log"))") }
        guard coordinator.terminationStatus == 0 else {
            throw HarnessError("coordinator exited \(coordinator.terminationStatus): \(log("\(run).log"))")
        }
        return try model(of: path(run))
    }

    func model(of run: String) throws -> [NamedTensor] {
        try CheckpointReader.read(run + "/latest.h5").model
    }

    func log(_ name: String) -> String { (try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "" }

    /// Waits until `text` appears in log `name`.
    func waitFor(_ text: String, in name: String, seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if log(name).contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// The endpoint of the `coordinator listening on <endpoint>` line of log `name` (the
    /// port chosen for a `tcp://HOST:*` bind), waiting for that line up to `seconds`.
    func listeningEndpoint(in name: String, seconds: Double = 60) -> String? {
        let marker = "coordinator listening on "
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            // Once the whole line is in: the endpoint ends at the first space (or the newline).
            let text = log(name)
            if let range = text.range(of: marker), text[range.upperBound...].contains("\n") {
                let endpoint = text[range.upperBound...].prefix { !$0.isWhitespace }
                return endpoint.isEmpty ? nil : String(endpoint)
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    func wait(_ p: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); return false }
        return true
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Whether two models hold the same tensors with bitwise equal values.
func bitwiseEqual(_ a: [NamedTensor], _ b: [NamedTensor]) -> Bool {
    guard a.count == b.count, !a.isEmpty else { return false }
    for (x, y) in zip(a, b) {
        guard x.name == y.name, x.shape == y.shape,
              x.values.map(\.bitPattern) == y.values.map(\.bitPattern) else { return false }
    }
    return true
}
