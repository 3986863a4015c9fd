// What `loom train` and `loom coordinator` do when the run directory already holds a run:
// refuse to start another over it (unless --fresh, which keeps it under a new name), and
// on resume, say which config keys changed and refuse those that break an exact resume
// (unless --allow-config-change).

import ArgumentParser
import Foundation
import Logging
import LoomCheckpoint
import LoomConfig

/// `--fresh` and `--allow-config-change`.
struct RunDirectoryOptions: ParsableArguments {
    @Flag(help: "Start a new run although the run directory holds one: the old directory is kept, renamed DIR.<UTC date-time>.")
    var fresh = false

    @Flag(help: "With --resume: accept config changes that break an exact resume (model, heads, data, batch size, micro-batch, seed).")
    var allowConfigChange = false

    var policy: RunDirectoryPolicy { RunDirectoryPolicy(fresh: fresh, allowConfigChange: allowConfigChange) }
}

/// The choices of `RunDirectoryOptions` as plain values.
struct RunDirectoryPolicy {
    var fresh = false
    var allowConfigChange = false
}

enum RunDirectoryGuard {
    /// Checks the run directory of `config` before a run is set up. Without `resume`: a
    /// directory holding checkpoints is refused, or with `fresh` renamed out of the way.
    /// With `resume`: the config changes since the checkpoint to resume from, logged, and
    /// refused when they break an exact resume unless allowed. Returns the changes the run
    /// must record (empty when nothing changed or nothing is resumed).
    static func prepare(config: RunConfig, resume: String?, policy: RunDirectoryPolicy,
                        logger: Logger) throws -> [ConfigChange] {
        let directory = RunDirectory(path: config.runDirectory)
        guard let resume else {
            try protect(directory, fresh: policy.fresh, logger: logger)
            return []
        }
        if policy.fresh {
            throw CLIError("--fresh starts a new run and --resume \(resume) continues one: give one of them")
        }
        // The checkpoint the resume will read; unreadable ones are the resume's to report.
        guard let point = try? directory.resolveResume(resume) else { return [] }
        let changes = try ConfigChanges.between(old: point.contents.config, new: config.yaml,
                                                source: (old: "\(point.path):/config", new: "the config"))
        let name = fileName(point.path)
        for change in changes {
            logger.notice("config changed since \(name): \(change)\(change.breaksExactResume ? " (breaks an exact resume)" : "")")
        }
        let breaking = changes.filter(\.breaksExactResume)
        if !breaking.isEmpty && !policy.allowConfigChange {
            throw CLIError("resuming \(point.path) with \(breaking.count == 1 ? "a config change that breaks" : "config changes that break") an exact resume: \(breaking.map(\.description).joined(separator: "; ")). Put \(breaking.count == 1 ? "it" : "them") back, pass --allow-config-change to resume anyway (the weights will no longer match an uninterrupted run), or start a new run with --fresh")
        }
        if !breaking.isEmpty {
            logger.warning("--allow-config-change: resuming with \(breaking.map(\.key).joined(separator: ", ")) changed; from here on the weights do not match an uninterrupted run")
        }
        return changes
    }

    /// Refuses to start a new run over the checkpoints of another, or moves them aside.
    private static func protect(_ directory: RunDirectory, fresh: Bool, logger: Logger) throws {
        // Checkpoint files only: a directory of that name (a blocked write) holds no run.
        let files = directory.checkpoints().filter { file in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        if fresh {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path),
                  !names.isEmpty else { return }
            let kept = try keep(directory.path)
            logger.notice("--fresh: kept the previous run directory as \(kept)")
            return
        }
        guard let newest = files.last else { return }
        let count = files.count == 1 ? "1 checkpoint" : "\(files.count) checkpoints"
        let which: String
        do {
            let contents = try CheckpointReader.read(newest.path)
            which = "run \(contents.runID) (\(count), the newest \(fileName(newest.path)) at step \(contents.step))"
        } catch {
            which = "\(count) of an earlier run (the newest, \(fileName(newest.path)), is unreadable: \(error))"
        }
        throw CLIError("run directory \(directory.path) holds \(which); a new run would replace them. Continue that run with --resume auto, or start a new one with --fresh (keeps the old directory as \(directory.path).<date-time>)")
    }

    private static func fileName(_ path: String) -> String { (path as NSString).lastPathComponent }

    /// Renames `path` to `path.<UTC yyyyMMdd-HHmmss>` (with `-2`, `-3`... if taken).
    private static func keep(_ path: String) throws -> String {
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "UTC")
        format.dateFormat = "yyyyMMdd-HHmmss"
        let base = path + "." + format.string(from: Date())
        var target = base
        var n = 1
        while FileManager.default.fileExists(atPath: target) {
            n += 1
            target = "\(base)-\(n)"
        }
        guard rename(path, target) == 0 else {
            throw CLIError("--fresh: cannot rename \(path) to \(target): \(String(cString: strerror(errno)))")
        }
        return target
    }
}
