// What a report knows of one run: its run directory's metrics.csv and checkpoints, read
// as they are now. Nothing else is read, so a live run can be reported on while it trains
// (checkpoints are renamed into place whole; metrics.csv only grows by whole lines, and a
// line still being written is dropped).

import Foundation
import LoomCheckpoint
import LoomConfig

/// One checkpoint file of a run, without opening it.
public struct CheckpointFacts: Sendable {
    public var step: Int
    public var path: String
    public var bytes: Int
    public var modified: Date?
}

/// A run directory as it is now.
public struct RunSnapshot: Sendable {
    /// The directory as given.
    public var directory: String
    /// Short name for legends and tables: the directory's last component.
    public var label: String
    /// metrics.csv (empty when the run has logged nothing yet).
    public var history: MetricsHistory
    /// Checkpoint files, oldest step first.
    public var checkpoints: [CheckpointFacts]
    /// The checkpoint `latest.h5` points at (else the newest file), read and validated.
    public var latestPath: String?
    public var latest: CheckpointContents?
    /// The config stored in the latest checkpoint, parsed (nil before the first checkpoint).
    public var config: RunConfig?

    /// Reads `path`. A directory with neither metrics.csv nor a checkpoint is an error.
    public static func read(_ path: String) throws(ReportError) -> RunSnapshot {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .notARunDirectory(path: path, detail: "no such directory")
        }
        let directory = RunDirectory(path: path)
        let history: MetricsHistory?
        do { history = try readHistory(directory) } catch { throw .unreadable(error) }
        let files = directory.checkpoints().map { file -> CheckpointFacts in
            let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
            return CheckpointFacts(step: file.step, path: file.path,
                                   bytes: (attributes?[.size] as? NSNumber)?.intValue ?? 0,
                                   modified: attributes?[.modificationDate] as? Date)
        }
        guard history != nil || !files.isEmpty else {
            throw .notARunDirectory(path: path, detail: "it holds neither \(RunDirectory.metricsName) nor a ckpt-*.h5 checkpoint")
        }
        var snapshot = RunSnapshot(directory: path, label: Self.label(of: path), history: history ?? MetricsHistory(),
                                   checkpoints: files)
        let linked = directory.latest().flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
        if let latest = linked ?? files.last?.path {
            let contents: CheckpointContents
            do { contents = try CheckpointReader.read(latest) } catch { throw .unreadable(error) }
            snapshot.latestPath = latest
            snapshot.latest = contents
            do {
                snapshot.config = try ConfigLoader.parse(yaml: contents.config, source: "\(latest):/config",
                                                         defaultName: snapshot.label)
            } catch { throw .config(checkpoint: latest, cause: error) }
        }
        return snapshot
    }

    /// metrics.csv, without a last line that is still being written (no newline yet).
    static func readHistory(_ directory: RunDirectory) throws(CheckpointError) -> MetricsHistory? {
        guard var text = try? String(contentsOfFile: directory.metricsPath, encoding: .utf8) else { return nil }
        if !text.hasSuffix("\n"), let cut = text.lastIndex(of: "\n") { text = String(text[...cut]) }
        return try RunDirectory.parseMetricsCSV(text, file: directory.metricsPath)
    }

    static func label(of path: String) -> String {
        let name = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
        return name.isEmpty ? path : name
    }

    // MARK: - Figures read off the history

    /// (x, y) of the rows where both columns are finite.
    public func series(_ y: String, against x: String = "step") -> [(Double, Double)] {
        guard let xs = history[x], let ys = history[y] else { return [] }
        return zip(xs, ys).filter { $0.0.isFinite && $0.1.isFinite }
    }

    /// The last finite value of a column.
    public func last(_ column: String) -> Double? { history[column]?.last(where: { $0.isFinite }) }

    /// Head names that have per-head columns in the history (`<metric>/<head>`), in order.
    public var historyHeads: [String] {
        var out: [String] = []
        for name in history.names {
            guard let slash = name.firstIndex(of: "/") else { continue }
            let head = String(name[name.index(after: slash)...])
            if !out.contains(head) { out.append(head) }
        }
        return out
    }

    /// `val` when the run evaluates on a validation split, else `test`.
    public var evaluationPrefix: String {
        history.names.contains { $0.hasPrefix("val_") } ? "val" : "test"
    }

    /// Steps at which the learning rate restarted: it rose after having fallen (a warm-up at
    /// the start of a run rises without a fall before it, and is no restart).
    public var restartSteps: [Double] {
        let points = series("lr")
        var out: [Double] = []
        var fell = false
        for i in 1..<max(points.count, 1) {
            let (previous, now) = (points[i - 1].1, points[i].1)
            if now < previous { fell = true }
            if now > previous && fell { out.append(points[i].0); fell = false }
        }
        return out
    }

    /// The evaluation row (epoch, mean over heads of the accuracy or mAP) with the best mean:
    /// the run's best epoch as its history saw it. Nil before the first evaluation.
    public var bestEpoch: (epoch: Double, score: Double)? {
        let prefix = evaluationPrefix
        let columns = history.names.filter { $0.hasPrefix("\(prefix)_accuracy/") || $0.hasPrefix("\(prefix)_map/") }
        guard !columns.isEmpty, let epochs = history["epoch"] else { return nil }
        var best: (Double, Double)?
        for r in 0..<history.rowCount {
            let values = columns.compactMap { history[$0]?[r] }.filter(\.isFinite)
            guard !values.isEmpty, r < epochs.count else { continue }
            let mean = values.reduce(0, +) / Double(values.count)
            if best == nil || mean > best!.1 { best = (epochs[r], mean) }
        }
        return best
    }

    /// Wall time of the run so far (the last `wall_s`), in seconds.
    public var wallSeconds: Double? { last("wall_s") }

    /// Workers admitted and lost over the run, as its checkpoints recorded them (nil when the
    /// run trained in one process or the checkpoint predates the record).
    public var workers: (joined: Int, lost: Int)? {
        guard let extra = latest?.extraAttributes, let j = extra["workers_joined"].flatMap(Int.init),
              let l = extra["workers_lost"].flatMap(Int.init) else { return nil }
        return (j, l)
    }
}
