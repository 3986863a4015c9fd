// A scratch directory for one test: the tiny dataset, run directories, logs. Removed
// when the test lets go of it.

import Foundation
import LoomTestSupport
import Testing

final class Workspace {
    let directory: URL
    /// Absolute path of the tiny dataset in this workspace.
    let datasetPath: String

    /// A new directory `/tmp/loom-cli-<name>.XXXXXX` with the tiny dataset in it.
    init(_ name: String, train: Int = 256, test: Int = 64) throws {
        directory = try TestPaths.temporaryDirectory("loom-cli-\(name)")
        datasetPath = directory.appendingPathComponent("tiny.h5").path
        try TinyDataset.write(to: datasetPath, train: train, test: test)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Absolute path of `name` inside the workspace.
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Writes `text` to `name` inside the workspace; returns its absolute path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let p = path(name)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    /// Runs `loom args` here to completion.
    func loom(_ arguments: [String], timeout: Double = 120, environment: [String: String] = [:]) throws -> LoomResult {
        try Loom.run(arguments, in: directory, timeout: timeout, environment: environment)
    }

    /// Starts `loom args` here in the background, logging to `<tag>.out|.err`.
    func start(_ arguments: [String], tag: String, environment: [String: String] = [:]) throws -> LoomChild {
        try Loom.start(arguments, in: directory, tag: tag, environment: environment)
    }
}

/// `loom train` on the tiny dataset with the MLP: 4 epochs of 8 steps (batch 32 of 256
/// samples, 4 micro-shards of 8), a history row every step, an evaluation at each epoch end.
struct TrainSpec {
    var runDirectory: String
    var datasetPath: String
    /// `checkpoint.every_steps`: 1 puts a checkpoint write in every step, so kills land in writes.
    var everySteps = 1
    var keep = 3
    var epochs = 4
    var seed = 7
    /// More `key=value` overrides, applied last.
    var extra: [String] = []

    init(workspace: Workspace, run: String, everySteps: Int = 1, keep: Int = 3) {
        runDirectory = workspace.path(run)
        datasetPath = workspace.datasetPath
        self.everySteps = everySteps
        self.keep = keep
    }

    /// `configs/smoke.yaml` in the repository, made tiny with overrides.
    static var smokeConfig: String { TestPaths.repositoryRoot.appendingPathComponent("configs/smoke.yaml").path }

    var overrides: [String] {
        ["model.file=models/mlp.yaml", "data.path=\(datasetPath)",
         "training.seed=\(seed)", "training.epochs=\(epochs)", "training.max_steps=0",
         "training.batch_size=32", "training.micro_batch=8", "training.log_every_steps=1",
         "checkpoint.dir=\(runDirectory)", "checkpoint.every_steps=\(everySteps)",
         "checkpoint.keep=\(keep)"] + extra
    }

    /// Steps of the whole run.
    var totalSteps: Int { epochs * 8 }

    /// `train --config smoke.yaml --set ...` plus `more` (e.g. `--resume auto`, `--workers 2`).
    func arguments(_ more: [String] = []) -> [String] {
        ["train", "--config", Self.smokeConfig] + overrides.flatMap { ["--set", $0] } + more
    }

    /// `latest.h5` of the run directory.
    var latest: String { runDirectory + "/latest.h5" }
    var metricsCSV: String { runDirectory + "/metrics.csv" }
    func checkpoint(step: Int) -> String { runDirectory + "/" + String(format: "ckpt-%08d.h5", step) }
}
