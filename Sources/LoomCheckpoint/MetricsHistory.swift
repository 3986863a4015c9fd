// Metrics history: a table with one row per logged point. In HDF5 every column is a
// growing 1-D float64 series under /metrics/<name>; in the run directory it is metrics.csv.

/// Columns of logged values, all of the same length (one row per logged point).
///
/// Column names are like `step`, `epoch`, `lr`, `train_loss`, `val_loss`,
/// `val_accuracy/<head>`, `ece/<head>`, `samples_per_s`, `wall_s`; a `/` becomes a
/// subgroup in HDF5. Column order is the order columns were first added and is kept
/// through checkpoints and metrics.csv.
public struct MetricsHistory: Equatable, Sendable {
    /// Column names in display order.
    public private(set) var names: [String]
    /// Column name → values, one per row.
    public private(set) var columns: [String: [Double]]

    /// An empty history.
    public init() { names = []; columns = [:] }

    /// A history from ordered columns. Columns of unequal length are kept as given; the
    /// writer refuses them, so a caller finds the mistake at the first save.
    public init(orderedColumns: [(String, [Double])]) {
        names = orderedColumns.map { $0.0 }
        columns = Dictionary(orderedColumns, uniquingKeysWith: { _, last in last })
        names = names.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }

    /// Number of rows (length of the first column; 0 when there are none).
    public var rowCount: Int { names.first.flatMap { columns[$0]?.count } ?? 0 }

    /// Whether every column has `rowCount` values.
    public var isRectangular: Bool { names.allSatisfy { columns[$0]?.count == rowCount } }

    /// Columns that lead the table when a row is given as a dictionary; others follow sorted.
    public static let leadingColumns = ["step", "epoch", "lr", "train_loss", "val_loss"]

    /// Appends one row given as a dictionary; new columns are ordered by `leadingColumns`,
    /// then alphabetically.
    public mutating func append(_ row: [String: Double]) {
        let lead = Self.leadingColumns.filter { row[$0] != nil }
        let rest = row.keys.filter { !Self.leadingColumns.contains($0) }.sorted()
        append(ordered: (lead + rest).map { ($0, row[$0]!) })
    }

    /// Appends one row. A column new to the history is back-filled with NaN for earlier rows;
    /// a known column missing from `row` gets NaN, so every column keeps the same length.
    public mutating func append(ordered row: [(String, Double)]) {
        let before = rowCount
        for (name, _) in row where columns[name] == nil {
            names.append(name)
            columns[name] = Array(repeating: .nan, count: before)
        }
        let given = Dictionary(row, uniquingKeysWith: { _, last in last })
        for name in names { columns[name, default: []].append(given[name] ?? .nan) }
    }

    /// Row `index` as name → value.
    public func row(_ index: Int) -> [String: Double] {
        var out: [String: Double] = [:]
        for name in names { if let c = columns[name], index < c.count { out[name] = c[index] } }
        return out
    }

    /// The rows in `range` as a new history with the same columns.
    public func rows(_ range: Range<Int>) -> MetricsHistory {
        MetricsHistory(orderedColumns: names.map { name in
            let c = columns[name] ?? []
            let lo = min(range.lowerBound, c.count), hi = min(range.upperBound, c.count)
            return (name, Array(c[lo..<hi]))
        })
    }

    /// The values of one column, or nil when it does not exist.
    public subscript(name: String) -> [Double]? { columns[name] }

    /// Bitwise equality: same column order and the same bit pattern in every cell, so a
    /// history with NaN gaps equals its round trip through a checkpoint.
    public static func == (a: MetricsHistory, b: MetricsHistory) -> Bool {
        a.names == b.names && a.names.allSatisfy { name in
            let x = a.columns[name] ?? [], y = b.columns[name] ?? []
            return x.count == y.count && zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern }
        }
    }
}
