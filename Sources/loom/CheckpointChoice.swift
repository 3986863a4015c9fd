// `loom eval|predict|calibrate best` (or `latest`): a run's named checkpoint instead of a
// path, looked up in the run directory given by --run-dir or by the run's --config.

import ArgumentParser
import Foundation
import LoomCheckpoint
import LoomConfig

/// Where `best` and `latest` are looked up.
struct CheckpointChoice: ParsableArguments {
    @Option(help: ArgumentHelp("Run directory in which CHECKPOINT 'best' or 'latest' is looked up.", valueName: "dir"))
    var runDir: String?

    @Option(name: .customLong("config"),
            help: ArgumentHelp("Run configuration whose run directory (checkpoint.dir, else runs/<name>) holds CHECKPOINT 'best' or 'latest'.",
                               valueName: "file"))
    var runConfig: String?

    /// The help of a command's CHECKPOINT argument.
    static let argumentHelp = ArgumentHelp(
        "Checkpoint file, or 'best' (best.h5, kept with checkpoint.keep_best) or 'latest' (latest.h5) of the run given by --run-dir or --config.",
        discussion: "A file named best or latest in the current directory is ./best.")

    /// Usage errors, found before anything runs.
    func validate(_ argument: String) throws {
        let word = RunDirectory.NamedCheckpoint(rawValue: argument)
        if runDir != nil && runConfig != nil {
            throw ValidationError("--run-dir and --config both name a run directory: give one of them")
        }
        if word == nil && (runDir != nil || runConfig != nil) {
            throw ValidationError("--run-dir and --config choose the run of 'best' or 'latest'; '\(argument)' is a file path")
        }
        if let word, runDir == nil && runConfig == nil {
            throw ValidationError("'\(word.rawValue)' names a run's \(word.rawValue).h5: give the run with --run-dir DIR or --config C.yaml (or a path, ./\(word.rawValue) for a file of that name)")
        }
    }

    /// The path to read: `argument` itself, or the named checkpoint of the run directory,
    /// which must exist.
    func resolve(_ argument: String) throws -> String {
        guard let word = RunDirectory.NamedCheckpoint(rawValue: argument) else { return argument }
        let directory: RunDirectory
        if let runDir {
            directory = RunDirectory(path: runDir)
        } else if let runConfig {
            directory = RunDirectory(path: try ConfigLoader.load(path: runConfig, overrides: []).runDirectory)
        } else {
            throw CLIError("'\(argument)' needs --run-dir or --config")
        }
        let path = directory.path(of: word)
        guard FileManager.default.fileExists(atPath: path) else {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) || !isDirectory.boolValue {
                throw CLIError("\(directory.path): no such run directory (for '\(argument)')")
            }
            switch word {
            case .best:
                throw CLIError("\(path) does not exist: a run keeps best.h5 only with checkpoint.keep_best (e.g. --set checkpoint.keep_best=val_accuracy/mean), from its first evaluation on")
            case .latest:
                throw CLIError("\(path) does not exist: the run has written no checkpoint yet")
            }
        }
        return path
    }
}
