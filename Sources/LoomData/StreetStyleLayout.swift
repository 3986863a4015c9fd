// StreetStyle-27k (Matzen, Bala, Snavely 2017): `streetstyle27k.manifest`, a CSV with a
// header and 25 columns
//
//   id,url,created_time,city_id,month_id,lat,lon,x1,y1,x2,y2,width,height,
//   clothing_pattern,major_color,wearing_necktie,collar_presence,wearing_scarf,
//   sleeve_length,neckline_shape,clothing_category,wearing_jacket,wearing_hat,
//   wearing_glasses,multiple_layers
//
// one row per annotated person (an image may have several rows, with different boxes);
// x1..y2 is the person's box in pixels, an empty attribute is unlabelled. The images
// unpack to `streetstyle27k/<c0>/<c1>/<c2>/<name>`, where name is the last part of the
// url and c0..c2 its first three characters. The classes are the published ones, in
// the order of their label frequencies; the yes/no attributes become binary attributes
// ("No" = 0, "Yes" = 1), as does multiple_layers ("One layer" = 0).

import Foundation
import LoomImage

public enum StreetStyleLayout {
    public static let manifestName = "streetstyle27k.manifest"

    /// The 12 attributes and their classes.
    public static let attributes: [(name: String, classes: [String], binary: Bool)] = [
        ("clothing_pattern", ["Solid", "Graphics", "Striped", "Floral", "Plaid", "Spotted"], false),
        ("major_color", ["Black", "White", "More than 1 color", "Blue", "Gray", "Red", "Pink", "Green", "Yellow",
                         "Brown", "Purple", "Orange", "Cyan"], false),
        ("wearing_necktie", ["No", "Yes"], true),
        ("collar_presence", ["No", "Yes"], true),
        ("wearing_scarf", ["No", "Yes"], true),
        ("sleeve_length", ["Long sleeve", "Short sleeve", "No sleeve"], false),
        ("neckline_shape", ["Round", "Folded", "V-shape"], false),
        ("clothing_category", ["Shirt", "Outerwear", "T-shirt", "Dress", "Tank top", "Suit", "Sweater"], false),
        ("wearing_jacket", ["No", "Yes"], true),
        ("wearing_hat", ["No", "Yes"], true),
        ("wearing_glasses", ["No", "Yes"], true),
        ("multiple_layers", ["One layer", "Multiple layers"], true),
    ]

    /// The manifest's header, in order.
    public static let header = ["id", "url", "created_time", "city_id", "month_id", "lat", "lon",
                                "x1", "y1", "x2", "y2", "width", "height"] + attributes.map(\.name)

    /// Where an image of `url` lives under `root`.
    public static func imagePath(root: String, url: String) -> String {
        let name = (url as NSString).lastPathComponent
        let chars = Array(name)
        let tree = (root as NSString).appendingPathComponent("streetstyle27k")
        guard chars.count >= 3 else { return (tree as NSString).appendingPathComponent(name) }
        return [String(chars[0]), String(chars[1]), String(chars[2]), name].reduce(tree) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// Reads `<root>/streetstyle27k.manifest`; rows are split by a seeded shuffle.
    public static func read(root: String, splitFractions: [Double], seed: UInt64) throws(ManifestError) -> PhotoManifest {
        let path = (root as NSString).appendingPathComponent(manifestName)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(file: path, reason: "cannot read the StreetStyle-27k manifest (missing or not readable)")
        }
        let table = try CSVTable.parse([UInt8](data), file: path)
        let index = Dictionary(table.header.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let missing = header.filter { index[$0] == nil }
        guard missing.isEmpty else {
            throw .badHeader(file: path, reason: "not a StreetStyle-27k manifest: no column \(missing.joined(separator: ", "))")
        }
        let infos = attributes.enumerated().map { k, a in
            PhotoAttribute(info: AttributeInfo(name: a.name, kind: a.binary ? .binary : .softmax, classNames: a.classes),
                           storage: .label(index: k))
        }
        let lookup = attributes.map { a in Dictionary(uniqueKeysWithValues: a.classes.enumerated().map { ($1, Int32($0)) }) }
        let splits = PhotoManifest.seededSplit(count: table.records.count, fractions: splitFractions, seed: seed)
        var rows: [PhotoRow] = []
        var rejected = table.rejected
        var firstLine: [String: Int] = [:]
        recordLoop: for (r, record) in table.records.enumerated() {
            let f = record.fields
            let url = f[index["url"]!].trimmingCharacters(in: .whitespaces)
            guard !url.isEmpty else {
                rejected.append(.badField(file: path, line: record.line, column: "url", value: "", reason: "is empty"))
                continue
            }
            var v: [Int] = []
            for c in ["x1", "y1", "x2", "y2"] {
                let t = f[index[c]!].trimmingCharacters(in: .whitespaces)
                guard let d = Double(t), d.isFinite, abs(d) < 1e9 else {
                    rejected.append(.badField(file: path, line: record.line, column: c, value: t, reason: "is not a pixel coordinate"))
                    continue recordLoop
                }
                v.append(Int(d.rounded()))
            }
            let box = CropBox(x1: v[0], y1: v[1], x2: v[2], y2: v[3])
            let name = (url as NSString).lastPathComponent
            guard box.x2 > box.x1, box.y2 > box.y1 else {
                rejected.append(.badImage(file: path, line: record.line, path: name, error: .emptyBox(box: box)))
                continue
            }
            var labels: [Int32] = []
            for (k, a) in attributes.enumerated() {
                let value = f[index[a.name]!].trimmingCharacters(in: .whitespaces)
                if value.isEmpty { labels.append(-1); continue }
                guard let c = lookup[k][value] else {
                    rejected.append(.unknownClass(file: path, line: record.line, attribute: a.name, value: value, known: a.classes))
                    continue recordLoop
                }
                labels.append(c)
            }
            let key = "\(name)\u{0}\(box)"
            if let first = firstLine[key] {
                rejected.append(.duplicate(file: path, line: record.line, path: name, firstLine: first))
                continue
            }
            firstLine[key] = record.line
            rows.append(PhotoRow(line: record.line, name: name, path: imagePath(root: root, url: url), box: box,
                                 split: splits[r], labels: labels))
        }
        rejected.sort { ($0.line ?? 0) < ($1.line ?? 0) }
        return PhotoManifest(file: path, attributes: infos, rows: rows, rejected: rejected, source: "StreetStyle-27k manifest")
    }
}
