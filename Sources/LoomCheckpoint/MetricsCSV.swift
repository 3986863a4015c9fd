// metrics.csv in the run directory: the metrics history as a plain table for
// spreadsheets and pandas. The checkpoint's /metrics series is the authority; the CSV
// follows it (on resume it is rewritten from the checkpoint, see `rewriteMetricsCSV`).

import Foundation

extension RunDirectory {
    /// Appends the rows of `rows` to metrics.csv. The header is written with the first rows;
    /// later rows follow the header's column order (a column absent from `rows` is `nan`).
    /// A column the header lacks (e.g. `val_loss`, first logged at the first evaluation) is
    /// added at the end: the file is rewritten atomically with the wider header and `nan` in
    /// the earlier rows, so existing columns never move.
    public func appendMetricsCSV(_ rows: MetricsHistory) throws(CheckpointError) {
        let file = metricsPath
        let existing = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        guard let first = existing.split(separator: "\n", omittingEmptySubsequences: false).first, !first.isEmpty else {
            try Self.checkColumnNames(rows.names, file: file)
            try Self.append(rows.names.joined(separator: ",") + "\n" + Self.csvRows(rows, columns: rows.names), to: file)
            return
        }
        let header = first.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if rows.names.contains(where: { !header.contains($0) }) {
            var widened = try readMetricsCSV() ?? MetricsHistory()
            for r in 0..<rows.rowCount { widened.append(ordered: rows.names.map { ($0, rows[$0]![r]) }) }
            try rewriteMetricsCSV(widened)
            return
        }
        try Self.append((existing.hasSuffix("\n") ? "" : "\n") + Self.csvRows(rows, columns: header), to: file)
    }

    /// Replaces metrics.csv atomically with exactly `history` (header + all rows).
    ///
    /// Used on resume: the CSV may hold rows logged after the checkpoint was written (the run
    /// went on before it stopped); rewriting it from the checkpoint's history drops them, so
    /// the CSV again equals the history and appends continue from the resumed step.
    public func rewriteMetricsCSV(_ history: MetricsHistory) throws(CheckpointError) {
        let file = metricsPath
        try Self.checkColumnNames(history.names, file: file)
        try createIfNeeded()   // a resume into a new checkpoint.dir comes here first
        let text = history.names.joined(separator: ",") + "\n" + Self.csvRows(history, columns: history.names)
        let temp = path + "/.\(Self.metricsName).tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temp, contents: Data(text.utf8)) else {
            throw CheckpointError(path: temp, reason: .writeFailed(operation: "create", detail: DurableFile.errnoText()))
        }
        do {
            try DurableFile.fsyncFile(temp)
            try DurableFile.moveIntoPlace(temp, to: file)
        } catch {
            DurableFile.remove(temp)
            throw error
        }
        try DurableFile.fsyncDirectory(path)
    }

    /// Reads metrics.csv back as a history (`nan`/empty cells as NaN). Nil when it does not exist.
    public func readMetricsCSV() throws(CheckpointError) -> MetricsHistory? {
        let file = metricsPath
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return try Self.parseMetricsCSV(text, file: file)
    }

    /// Parses metrics.csv text (`file` names it in errors).
    public static func parseMetricsCSV(_ text: String, file: String) throws(CheckpointError) -> MetricsHistory {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let first = lines.first else { return MetricsHistory() }
        let header = first.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var cols = Array(repeating: [Double](), count: header.count)
        for (i, line) in lines.dropFirst().enumerated() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count == header.count else {
                throw CheckpointError(path: file, reason: .metricsCSV(
                    line: i + 2, detail: "\(cells.count) cells, header has \(header.count)"))
            }
            for (c, cell) in cells.enumerated() {
                guard let v = cell.isEmpty ? Double.nan : Double(cell) else {
                    throw CheckpointError(path: file, reason: .metricsCSV(
                        line: i + 2, detail: "column '\(header[c])': '\(cell)' is not a number"))
                }
                cols[c].append(v)
            }
        }
        return MetricsHistory(orderedColumns: Array(zip(header, cols)))
    }

    // MARK: - Formatting

    /// A value as CSV text: integers without a fraction, others in Swift's shortest
    /// round-trip form (so reading the CSV gives the identical Double), `nan`, `inf`, `-inf`.
    static func csvNumber(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == v.rounded(), abs(v) < 1e15, !(v == 0 && v.sign == .minus) { return String(Int64(v)) }
        return "\(v)"
    }

    static func csvRows(_ h: MetricsHistory, columns: [String]) -> String {
        var out = ""
        for r in 0..<h.rowCount {
            out += columns.map { name in
                h[name].map { r < $0.count ? csvNumber($0[r]) : "nan" } ?? "nan"
            }.joined(separator: ",") + "\n"
        }
        return out
    }

    private static func checkColumnNames(_ names: [String], file: String) throws(CheckpointError) {
        if let bad = names.first(where: { $0.isEmpty || $0.contains(",") || $0.contains("\n") }) {
            throw CheckpointError(path: file, reason: .metricsCSV(
                line: 1, detail: "column name '\(bad)' is empty or holds a comma or newline"))
        }
    }

    private static func append(_ text: String, to file: String) throws(CheckpointError) {
        guard let f = fopen(file, "a") else {
            throw CheckpointError(path: file, reason: .writeFailed(operation: "open for append", detail: DurableFile.errnoText()))
        }
        let bytes = Array(text.utf8)
        let written = fwrite(bytes, 1, bytes.count, f)
        let flushed = fflush(f) == 0
        fclose(f)
        guard written == bytes.count, flushed else {
            throw CheckpointError(path: file, reason: .writeFailed(operation: "append", detail: DurableFile.errnoText()))
        }
    }
}
