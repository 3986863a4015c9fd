// The run directory (`checkpoint.dir`, default `runs/<name>/`): numbered checkpoints,
// a `latest.h5` symlink to the newest one written, and metrics.csv.

import Foundation

/// One `ckpt-<step>.h5` file found in a run directory.
public struct CheckpointFile: Equatable, Sendable {
    public var step: Int
    public var path: String
}

/// A checkpoint chosen for resuming, with the newer files that were skipped as invalid.
public struct ResumePoint: Sendable {
    public var contents: CheckpointContents
    public var path: String
    /// Newer checkpoints that failed validation, newest first; callers log them as warnings.
    public var skipped: [(path: String, error: CheckpointError)]
}

/// Checkpoint files of one run: naming, atomic save with rotation, and resume resolution.
///
/// Layout: `<dir>/ckpt-00000300.h5` (step zero-padded to 8 digits so names sort), `<dir>/latest.h5`
/// (relative symlink to the checkpoint written last, replaced atomically), `<dir>/metrics.csv`.
public struct RunDirectory: Sendable {
    /// The directory path as given (relative paths resolve against the working directory).
    public let path: String

    public static let latestName = "latest.h5"
    public static let metricsName = "metrics.csv"

    public init(path: String) {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        self.path = p.isEmpty ? "." : p
    }

    /// `<dir>/ckpt-<step zero-padded to 8>.h5`.
    public func checkpointPath(step: Int) -> String {
        let digits = String(step)
        return path + "/ckpt-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".h5"
    }

    /// `<dir>/latest.h5`.
    public var latestPath: String { path + "/" + Self.latestName }

    /// `<dir>/metrics.csv`.
    public var metricsPath: String { path + "/" + Self.metricsName }

    /// Checkpoint files in the directory, oldest step first (empty when the directory does not exist).
    public func checkpoints() -> [CheckpointFile] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.compactMap { name -> CheckpointFile? in
            guard let step = Self.step(ofCheckpointName: name) else { return nil }
            return CheckpointFile(step: step, path: path + "/" + name)
        }.sorted { $0.step < $1.step }
    }

    /// The checkpoint `latest.h5` points at, or nil when there is no such link.
    public func latest() -> String? {
        DurableFile.readLink(latestPath).map { $0.hasPrefix("/") ? $0 : path + "/" + $0 }
    }

    /// Writes `contents` atomically as `ckpt-<step>.h5`, points `latest.h5` at it, then deletes
    /// all but the newest `keep` checkpoints (by step). Never deleted: the file just written
    /// and the one `latest.h5` points at. Returns the path written.
    ///
    /// A failed write throws and leaves every existing checkpoint and `latest.h5` untouched.
    @discardableResult
    public func save(_ contents: CheckpointContents, keep: Int) throws(CheckpointError) -> String {
        try createIfNeeded()
        removeStaleTemporaries()
        let target = checkpointPath(step: contents.step)
        try CheckpointWriter.write(contents, to: target)
        try pointLatest(at: target)
        prune(keep: keep, protecting: [target])
        return target
    }

    /// Deletes all but the newest `keep` (at least 1) checkpoints, sparing `protecting` and the
    /// target of `latest.h5`. Returns the paths removed.
    @discardableResult
    public func prune(keep: Int, protecting: [String] = []) -> [String] {
        let all = checkpoints()
        var spared = Set(protecting.map(DurableFile.basename))
        if let l = latest() { spared.insert(DurableFile.basename(l)) }
        let keepCount = max(1, keep)
        var removed: [String] = []
        for (i, file) in all.reversed().enumerated() where i >= keepCount {
            guard !spared.contains(DurableFile.basename(file.path)) else { continue }
            DurableFile.remove(file.path)
            removed.append(file.path)
        }
        if !removed.isEmpty { try? DurableFile.fsyncDirectory(path) }
        return removed
    }

    /// Finds the checkpoint to resume from.
    ///
    /// - `"auto"`: the newest checkpoint (by step) that validates; invalid newer ones are
    ///   returned in `skipped`. Nil when the directory holds no checkpoint; throws
    ///   `.noValidCheckpoint` when it holds some but none is valid.
    /// - any other string: that file, which must validate (its error is thrown otherwise).
    public func resolveResume(_ spec: String, expecting: CheckpointExpectation? = nil)
        throws(CheckpointError) -> ResumePoint? {
        if spec != "auto" {
            let contents = try CheckpointReader.read(spec, expecting: expecting)
            return ResumePoint(contents: contents, path: spec, skipped: [])
        }
        let files = checkpoints()
        guard let newest = files.last else { return nil }
        var skipped: [(path: String, error: CheckpointError)] = []
        for file in files.reversed() {
            do {
                let contents = try CheckpointReader.read(file.path, expecting: expecting)
                return ResumePoint(contents: contents, path: file.path, skipped: skipped)
            } catch {
                skipped.append((file.path, error))
            }
        }
        throw CheckpointError(path: path, reason: .noValidCheckpoint(count: files.count,
                                                                     newest: skipped.first?.error.description ?? newest.path))
    }

    // MARK: - Helpers

    /// `"ckpt-00000300.h5"` → 300; nil for any other name.
    static func step(ofCheckpointName name: String) -> Int? {
        guard name.hasPrefix("ckpt-"), name.hasSuffix(".h5") else { return nil }
        let digits = name.dropFirst(5).dropLast(3)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    func createIfNeeded() throws(CheckpointError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError(path: path, reason: .writeFailed(operation: "create run directory",
                                                                   detail: "\(error.localizedDescription)"))
        }
        guard DurableFile.isDirectory(path) else {
            throw CheckpointError(path: path, reason: .writeFailed(operation: "create run directory",
                                                                   detail: "exists and is not a directory"))
        }
    }

    /// Replaces `latest.h5` atomically: a temporary symlink renamed over it.
    private func pointLatest(at target: String) throws(CheckpointError) {
        let temp = path + "/.latest.h5.tmp-\(getpid())"
        DurableFile.remove(temp)
        try DurableFile.makeSymlink(target: DurableFile.basename(target), at: temp)
        do {
            try DurableFile.moveIntoPlace(temp, to: latestPath)
        } catch {
            DurableFile.remove(temp)
            throw error
        }
        try DurableFile.fsyncDirectory(path)
    }

    /// Removes `.<name>.tmp-<pid>` files left by writers that died (their pid is gone).
    private func removeStaleTemporaries() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names where name.hasPrefix(".") {
            guard let r = name.range(of: ".tmp-", options: .backwards),
                  let pid = Int32(name[r.upperBound...]), pid != getpid(),
                  !DurableFile.processAlive(pid) else { continue }
            DurableFile.remove(path + "/" + name)
        }
    }
}
