// `loom export-tensorboard`: a run's metrics.csv as one TensorBoard event file.

import Foundation
import LoomCheckpoint
import LoomTensorBoard

public enum TensorBoardExport {
    /// File-name suffix of exported files; an export replaces the earlier exports in `out`
    /// (so exporting twice does not draw every curve twice), never other event files.
    public static let suffix = "loom-export"

    /// Writes the history of `runDirectory` to a new event file in `out`. Wall times are the
    /// run's: metrics.csv's modification time minus the last `wall_s`, plus each row's
    /// `wall_s`. Returns the file written and the number of events.
    public static func export(runDirectory: String, to out: String) throws(ReportError) -> (path: String, events: Int) {
        let snapshot = try RunSnapshot.read(runDirectory)
        let history = snapshot.history
        guard history.rowCount > 0 else {
            throw .notARunDirectory(path: runDirectory, detail: "metrics.csv has no rows yet")
        }
        let metrics = RunDirectory(path: runDirectory).metricsPath
        let modified = (try? FileManager.default.attributesOfItem(atPath: metrics)[.modificationDate] as? Date) ?? Date()
        let start = modified.timeIntervalSince1970 - (snapshot.wallSeconds ?? 0)
        let events = (0..<history.rowCount).compactMap { r -> ScalarEvent? in
            let row = history.row(r)
            let wall = row["wall_s"].flatMap { $0.isFinite ? $0 : nil } ?? 0
            return ScalarEvent(row: row, wallTime: start + wall)
        }
        let earlier = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [])
            .filter { $0.hasPrefix("events.out.tfevents.") && $0.contains("." + suffix) }
        do {
            let writer = try EventFileWriter(directory: out, suffix: suffix, now: Date(timeIntervalSince1970: start))
            try writer.append(events)
            for name in earlier where out + "/" + name != writer.path { try? FileManager.default.removeItem(atPath: out + "/" + name) }
            return (writer.path, events.count)
        } catch {
            throw .writeFailed(path: out, detail: "\(error)")
        }
    }
}
