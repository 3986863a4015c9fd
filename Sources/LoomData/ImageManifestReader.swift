// `loom import images`: a CSV manifest with a header.
//
//   path,x1,y1,x2,y2,split,colour,pattern,hat
//   shop/0001.jpg,12,30,410,520,train,black,solid,0
//
// - path: the image, relative to --root (columns named path, image, file or filename; the
//   first found).
// - x1,y1,x2,y2 (optional, all four or none): crop box in pixels of the displayed image;
//   a row may leave all four empty for the whole image.
// - split (optional): train, validation (val, valid) or test. Without it, rows are split
//   by a seeded shuffle in the --split proportions.
// - every other column (or those named by --attributes) is an attribute: class names, or
//   0/1 for a yes/no attribute (stored as a binary attribute with classes "0", "1"). Empty
//   or -1 means unlabelled. Classes are the values seen, sorted, unless --classes gives
//   them (then any other value is an error).

import Foundation
import LoomImage
import Yams

/// Options of a CSV manifest import.
public struct ImageManifestOptions: Sendable {
    /// Directory the manifest's relative paths start from.
    public var root: String
    /// Class lists by attribute (from `--classes`); other attributes are inferred.
    public var classes: [String: [String]] = [:]
    /// The attribute columns to import (nil = every column that is not path, box or split).
    public var attributes: [String]? = nil
    /// train, validation, test proportions when the manifest has no split column.
    public var splitFractions: [Double] = [0.8, 0.1, 0.1]
    public var seed: UInt64 = 7

    public init(root: String) { self.root = root }
}

public enum ImageManifestReader {
    static let pathColumns = ["path", "image", "file", "filename"]
    static let boxColumns = ["x1", "y1", "x2", "y2"]

    /// Reads the manifest at `path`.
    /// - Throws: file-level problems (unreadable, empty, bad header, bad options); problems of
    ///   single rows are returned in `rejected` instead.
    public static func read(path: String, options: ImageManifestOptions) throws(ManifestError) -> PhotoManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(file: path, reason: "cannot read the manifest (missing or not readable)")
        }
        let table = try CSVTable.parse([UInt8](data), file: path)
        let header = table.header
        var seen: Set<String> = []
        for h in header {
            if h.isEmpty { throw .badHeader(file: path, reason: "a column has no name") }
            if !seen.insert(h).inserted { throw .badHeader(file: path, reason: "column '\(h)' appears twice") }
        }
        guard let pathColumn = pathColumns.first(where: seen.contains) else {
            throw .badHeader(file: path, reason: "no path column (name one of: \(pathColumns.joined(separator: ", ")))")
        }
        let boxPresent = boxColumns.filter(seen.contains)
        guard boxPresent.isEmpty || boxPresent.count == 4 else {
            throw .badHeader(file: path, reason: "box columns need all of x1, y1, x2, y2 (found \(boxPresent.joined(separator: ", ")))")
        }
        let hasSplit = seen.contains("split")
        let reserved = Set([pathColumn, "split"] + boxColumns)
        var attributeColumns = header.filter { !reserved.contains($0) }
        if let wanted = options.attributes {
            for w in wanted where !attributeColumns.contains(w) {
                throw .badOption(option: "--attributes", reason: "the manifest has no attribute column '\(w)' (columns: \(header.joined(separator: ", ")))")
            }
            attributeColumns = wanted
        }
        for name in options.classes.keys where !attributeColumns.contains(name) {
            throw .badOption(option: "--classes", reason: "attribute '\(name)' is not a column of \(path)")
        }
        guard !attributeColumns.isEmpty else { throw .badHeader(file: path, reason: "no attribute column") }
        let index = Dictionary(uniqueKeysWithValues: header.enumerated().map { ($1, $0) })
        func isUnlabelled(_ v: String) -> Bool { v.isEmpty || v == "-1" }

        // Attributes: given classes, 0/1 binary, or the sorted values seen.
        var attributes: [PhotoAttribute] = []
        var classIndex: [[String: Int32]] = []
        for (k, name) in attributeColumns.enumerated() {
            let column = index[name]!
            let info: AttributeInfo
            if let given = options.classes[name] {
                info = AttributeInfo(name: name, kind: .softmax, classNames: given)
            } else {
                let values = Set(table.records.map { $0.fields[column].trimmingCharacters(in: .whitespaces) }.filter { !isUnlabelled($0) })
                guard !values.isEmpty else {
                    throw .badHeader(file: path, reason: "attribute column '\(name)' has no labelled row")
                }
                info = values.isSubset(of: ["0", "1"])
                    ? AttributeInfo(name: name, kind: .binary, classNames: ["0", "1"])
                    : AttributeInfo(name: name, kind: .softmax, classNames: values.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            }
            attributes.append(PhotoAttribute(info: info, storage: .label(index: k)))
            classIndex.append(Dictionary(uniqueKeysWithValues: info.classNames.enumerated().map { ($1, Int32($0)) }))
        }

        let seededSplits = hasSplit ? [] : PhotoManifest.seededSplit(count: table.records.count, fractions: options.splitFractions, seed: options.seed)
        var rows: [PhotoRow] = []
        var rejected = table.rejected
        var firstLine: [String: Int] = [:]
        rows.reserveCapacity(table.records.count)
        recordLoop: for (r, record) in table.records.enumerated() {
            let f = record.fields
            let name = f[index[pathColumn]!].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else {
                rejected.append(.badField(file: path, line: record.line, column: pathColumn, value: "", reason: "is empty"))
                continue
            }
            var box: CropBox? = nil
            if boxPresent.count == 4 {
                let texts = boxColumns.map { f[index[$0]!].trimmingCharacters(in: .whitespaces) }
                if !texts.allSatisfy(\.isEmpty) {
                    var v: [Int] = []
                    for (c, t) in zip(boxColumns, texts) {
                        guard let d = Double(t), d.isFinite, abs(d) < 1e9 else {
                            rejected.append(.badField(file: path, line: record.line, column: c, value: t, reason: "is not a pixel coordinate"))
                            continue recordLoop
                        }
                        v.append(Int(d.rounded()))
                    }
                    let b = CropBox(x1: v[0], y1: v[1], x2: v[2], y2: v[3])
                    guard b.x2 > b.x1, b.y2 > b.y1 else {
                        rejected.append(.badImage(file: path, line: record.line, path: name, error: .emptyBox(box: b)))
                        continue
                    }
                    box = b
                }
            }
            let split: String
            if hasSplit {
                let value = f[index["split"]!]
                guard let s = PhotoManifest.canonicalSplit(value) else {
                    rejected.append(.badField(file: path, line: record.line, column: "split", value: value,
                                              reason: "is not train, validation or test"))
                    continue
                }
                split = s
            } else {
                split = seededSplits[r]
            }
            var labels: [Int32] = []
            for (k, a) in attributeColumns.enumerated() {
                let v = f[index[a]!].trimmingCharacters(in: .whitespaces)
                if isUnlabelled(v) { labels.append(-1); continue }
                guard let c = classIndex[k][v] else {
                    rejected.append(.unknownClass(file: path, line: record.line, attribute: a, value: v,
                                                  known: attributes[k].info.classNames))
                    continue recordLoop
                }
                labels.append(c)
            }
            let key = "\(name)\u{0}\(box.map(\.description) ?? "")"
            if let first = firstLine[key] {
                rejected.append(.duplicate(file: path, line: record.line, path: name, firstLine: first))
                continue
            }
            firstLine[key] = record.line
            let file = name.hasPrefix("/") ? name : (options.root as NSString).appendingPathComponent(name)
            rows.append(PhotoRow(line: record.line, name: name, path: file, box: box, split: split, labels: labels))
        }
        rejected.sort { ($0.line ?? 0) < ($1.line ?? 0) }
        return PhotoManifest(file: path, attributes: attributes, rows: rows, rejected: rejected,
                             source: "manifest \((path as NSString).lastPathComponent)")
    }

    /// Reads a `--classes` YAML file: a map from attribute name to its list of class names,
    /// in the order they are to be numbered.
    ///
    ///     colour: [black, white, blue]
    ///     pattern: [solid, striped]
    public static func loadClasses(path: String) throws(ManifestError) -> [String: [String]] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .badClasses(file: path, reason: "cannot read the file as UTF-8 text")
        }
        // Scalars are read as written: class names like `yes`, `no` or `0` stay strings.
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw .badClasses(file: path, reason: "not valid YAML: \(error)") }
        guard let map = node?.mapping else {
            throw .badClasses(file: path, reason: "expected a map from attribute name to a list of class names")
        }
        var out: [String: [String]] = [:]
        for (key, value) in map {
            let name = key.string ?? "?"
            guard let list = value.sequence, !list.isEmpty else {
                throw .badClasses(file: path, reason: "'\(name)' must be a non-empty list of class names")
            }
            var names: [String] = []
            for item in list {
                guard let s = item.string else { throw .badClasses(file: path, reason: "'\(name)': class names must be plain scalars") }
                names.append(s)
            }
            guard Set(names).count == names.count else {
                throw .badClasses(file: path, reason: "'\(name)' lists a class twice")
            }
            out[name] = names
        }
        return out
    }
}

extension ManifestError {
    /// The manifest line a row error refers to (nil for file-level errors).
    public var line: Int? {
        switch self {
        case .notUTF8(_, let l), .badCSV(_, let l, _), .columnCount(_, let l, _, _), .badField(_, let l, _, _, _),
             .unknownClass(_, let l, _, _, _), .duplicate(_, let l, _, _), .missingImage(_, let l, _, _),
             .badImage(_, let l, _, _):
            return l
        default:
            return nil
        }
    }
}

extension ImageManifestReader {
    /// The images of a manifest for prediction: its path column and, when present, its
    /// x1,y1,x2,y2 boxes; other columns are ignored.
    public static func readImageList(path: String, root: String) throws(ManifestError) -> [PhotoRow] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(file: path, reason: "cannot read the manifest (missing or not readable)")
        }
        let table = try CSVTable.parse([UInt8](data), file: path)
        if let first = table.rejected.first { throw first }
        let index = Dictionary(table.header.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        // A StreetStyle-27k manifest names images by url.
        let streetStyle = pathColumns.allSatisfy { index[$0] == nil } && index["url"] != nil
        guard let pathColumn = streetStyle ? "url" : pathColumns.first(where: { index[$0] != nil }) else {
            throw .badHeader(file: path, reason: "no path column (name one of: \(pathColumns.joined(separator: ", ")), or url)")
        }
        let hasBox = boxColumns.allSatisfy { index[$0] != nil }
        var rows: [PhotoRow] = []
        for record in table.records {
            let name = record.fields[index[pathColumn]!].trimmingCharacters(in: .whitespaces)
            var box: CropBox? = nil
            if hasBox {
                let texts = boxColumns.map { record.fields[index[$0]!].trimmingCharacters(in: .whitespaces) }
                if !texts.allSatisfy(\.isEmpty) {
                    let v = texts.compactMap { Double($0) }.map { Int($0.rounded()) }
                    guard v.count == 4 else {
                        throw .badField(file: path, line: record.line, column: "x1..y2", value: texts.joined(separator: ","),
                                        reason: "are not four pixel coordinates")
                    }
                    box = CropBox(x1: v[0], y1: v[1], x2: v[2], y2: v[3])
                }
            }
            let file = streetStyle ? StreetStyleLayout.imagePath(root: root, url: name)
                : name.hasPrefix("/") ? name : (root as NSString).appendingPathComponent(name)
            rows.append(PhotoRow(line: record.line, name: name, path: file, box: box, split: "", labels: []))
        }
        return rows
    }
}

extension PhotoImporter {
    /// Prepares `rows` (image files and boxes) with `preprocessing` on all cores, as the
    /// importer does: `(rows.count, S, S, 3)` pixels, or the first row that fails.
    public static func prepare(_ rows: [PhotoRow], preprocessing: ImagePreprocessing, file: String,
                               threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws(ManifestError) -> [UInt8] {
        let rowBytes = preprocessing.size * preprocessing.size * 3
        var pixels = [UInt8](repeating: 0, count: rows.count * rowBytes)
        guard !rows.isEmpty else { return pixels }
        let preprocessors = (0..<max(1, threads)).map { _ in ImagePreprocessor(preprocessing) }
        let failures = UnsafeMutableBufferPointer<ManifestError?>.allocate(capacity: rows.count)
        defer { failures.deallocate() }
        pixels.withUnsafeMutableBufferPointer {
            decode(rows, preprocessors: preprocessors, into: $0, failures: failures, manifest: file)
        }
        if let first = failures.compactMap({ $0 }).first { throw first }
        return pixels
    }
}
