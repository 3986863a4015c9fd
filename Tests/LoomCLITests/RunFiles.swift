// Reading what a run left on disk, with no Loom code but LoomHDF5: checkpoint names,
// `latest.h5`, temporary files, metrics.csv, tensors and root attributes.

import Foundation
import LoomHDF5

enum RunFiles {
    /// Steps of the `ckpt-<step>.h5` files in `directory`, ascending.
    static func checkpointSteps(in directory: String) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("ckpt-"), name.hasSuffix(".h5") else { return nil }
            return Int(name.dropFirst(5).dropLast(3))
        }.sorted()
    }

    /// Names of leftover temporary files (`.<name>.tmp-<pid>`) in `directory`.
    static func temporaryFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.contains(".tmp-") }.sorted()
    }

    /// The file name `latest.h5` points at (symlink target's last component), if any.
    static func latestTarget(in directory: String) -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/latest.h5") else {
            return nil
        }
        return URL(fileURLWithPath: target).lastPathComponent
    }

    /// Root attribute `step` of checkpoint `path`.
    static func step(of path: String) throws -> Int? {
        let file = try HDF5File.open(path, mode: .readOnly)
        defer { file.close() }
        return try file.root.intAttribute("step")
    }

    /// Float32 tensor `name` (e.g. `model/l1/weight`) of checkpoint `path`, flattened.
    static func tensor(_ name: String, in path: String) throws -> [Float] {
        let file = try HDF5File.open(path, mode: .readOnly)
        defer { file.close() }
        return try file.root.read(Float.self, name).values
    }
}

/// A metrics.csv (or `loom inspect --metrics-csv`) table, for comparing histories.
struct MetricsTable: Equatable {
    var columns: [String]
    var rows: [[String]]

    /// Columns that measure time, not training: allowed to differ between runs.
    static let timingColumns: Set<String> = ["samples_per_s", "wall_s"]

    init(csv: String) {
        let lines = csv.split(separator: "\n", omittingEmptySubsequences: true).map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        columns = lines.first ?? []
        rows = Array(lines.dropFirst())
    }

    init(file path: String) throws {
        self.init(csv: try String(contentsOfFile: path, encoding: .utf8))
    }

    /// The same table without the timing columns.
    var withoutTimings: MetricsTable {
        let keep = columns.indices.filter { !Self.timingColumns.contains(columns[$0]) }
        var t = self
        t.columns = keep.map { columns[$0] }
        t.rows = rows.map { row in keep.map { $0 < row.count ? row[$0] : "<missing>" } }
        return t
    }

    /// Values of column `name`, as numbers.
    func column(_ name: String) -> [Double] {
        guard let i = columns.firstIndex(of: name) else { return [] }
        return rows.map { i < $0.count ? Double($0[i]) ?? .nan : .nan }
    }

    /// A short description of the first difference from `other`, for failure messages.
    func firstDifference(from other: MetricsTable) -> String {
        if columns != other.columns { return "columns \(columns) vs \(other.columns)" }
        if rows.count != other.rows.count { return "\(rows.count) rows vs \(other.rows.count)" }
        for (i, (a, b)) in zip(rows, other.rows).enumerated() where a != b {
            return "row \(i): \(a) vs \(b)"
        }
        return "none"
    }
}
