import ArgumentParser
import Foundation
import Logging
import LoomCheckpoint
import LoomConfig
import LoomData
import LoomTraining

/// `--config FILE` and repeatable `--set key.path=value`.
struct ConfigOptions: ParsableArguments {
    @Option(help: "Run configuration (YAML).")
    var config: String

    @Option(name: .customLong("set"), help: "Override a config key: --set training.max_steps=100 (repeatable).")
    var overrides: [String] = []

    func load() throws -> RunConfig {
        try ConfigLoader.load(path: config, overrides: overrides)
    }
}

/// Opening what a run needs, with errors that name the file.
enum RunSetup {
    static func openDataset(_ path: String) throws -> Dataset {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("dataset file \(path) does not exist (data.path); import it first: loom import fashion-mnist --out \(path)")
        }
        return try Dataset(path: path)
    }

    /// A TrainingRun for a checkpoint: its stored config (with overrides), weights restored.
    static func restoreRun(checkpoint path: String, overrides: [String], dataPath: String?, logger: Logger)
        throws -> (TrainingRun, CheckpointContents) {
        let contents = try CheckpointReader.read(path)
        var allOverrides = overrides
        if let dataPath { allOverrides.append("data.path=\(dataPath)") }
        let config = try ConfigLoader.parse(yaml: contents.config, source: "\(path):/config", overrides: allOverrides,
                                            defaultName: "checkpoint")
        let dataset = try openDataset(config.data.path)
        let run = try TrainingRun(config: config, dataset: dataset, logger: logger)
        _ = try CheckpointReader.read(path, expecting: run.state.checkpointExpectation)
        try run.state.restore(from: contents)
        return (run, contents)
    }
}

/// Installs handlers: SIGTERM/SIGINT ask the run to checkpoint and stop, SIGUSR1 to checkpoint.
enum SignalHandling {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    static func install(control: RunControl, onStop: (@Sendable (Int32) -> Void)? = nil) {
        for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGUSR1, "SIGUSR1")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if sig == SIGUSR1 {
                    control.requestCheckpoint()
                } else {
                    control.requestStop("\(name) received")
                    onStop?(sig)
                }
            }
            source.resume()
            sources.append(source)
        }
    }
}
