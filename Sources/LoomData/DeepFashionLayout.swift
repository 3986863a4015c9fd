// DeepFashion's Category and Attribute Prediction benchmark (Liu et al. 2016). Every list
// file starts with a line holding the number of entries and a line of column names, then
// one entry a line, fields separated by runs of spaces:
//
//   Anno/list_category_cloth.txt  category_name category_type (1 upper-body, 2 lower-body, 3 full-body)
//   Anno/list_category_img.txt    image_name category_label (1-based, into list_category_cloth)
//   Anno/list_attr_cloth.txt      attribute_name attribute_type (1 texture, 2 fabric, 3 shape,
//                                 4 part, 5 style); names may contain spaces
//   Anno/list_attr_img.txt        image_name and one value per attribute: 1 present, -1 absent,
//                                 0 unknown (stored as not labelled)
//   Anno/list_bbox.txt            image_name x_1 y_1 x_2 y_2
//   Eval/list_eval_partition.txt  image_name evaluation_status (train, val, test)
//
// Image names are paths under Img/ (img/<item folder>/img_00000001.jpg). The dataset gets
// `category` (softmax, 50), `category_type` (softmax, 3), `attributes` (multilabel, 1000),
// and the attributes of each type as their own multilabel heads: `texture`, `fabric`,
// `shape`, `part`, `style`. The list files may also sit directly in the root.

import Foundation
import LoomImage

public enum DeepFashionLayout {
    public static let attributeTypes = ["texture", "fabric", "shape", "part", "style"]
    public static let categoryTypes = ["upper-body", "lower-body", "full-body"]

    /// One entry line: its line number and its whitespace-separated fields.
    struct Entry { var line: Int; var fields: [Substring] }

    /// Reads a list file: checks the count line, skips the column names, returns entries.
    static func entries(_ path: String) throws(ManifestError) -> [Entry] {
        guard let handle = fopen(path, "r") else {
            throw .unreadable(file: path, reason: "cannot read (\(String(cString: strerror(errno))))")
        }
        defer { fclose(handle) }
        var out: [Entry] = []
        var declared: Int? = nil
        var lineNumber = 0
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(buffer) }
        while getline(&buffer, &capacity, handle) >= 0 {
            lineNumber += 1
            guard let text = String(validatingCString: buffer!) else { throw .notUTF8(file: path, line: lineNumber) }
            let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if lineNumber == 1 {
                guard let n = Int(line), n >= 0 else {
                    throw .badField(file: path, line: 1, column: "count", value: line, reason: "is not the number of entries")
                }
                declared = n
                continue
            }
            if lineNumber == 2 || line.isEmpty { continue }
            out.append(Entry(line: lineNumber, fields: line.split(whereSeparator: { $0 == " " || $0 == "\t" })))
        }
        guard let declared else { throw .noRows(file: path, reason: "empty list file") }
        guard declared == out.count else {
            throw .badField(file: path, line: 1, column: "count", value: "\(declared)", reason: "but the file has \(out.count) entries")
        }
        return out
    }

    /// The first of `root/Anno/name`, `root/Eval/name`, `root/name` that exists.
    static func locate(_ name: String, root: String) throws(ManifestError) -> String {
        let candidates = ["Anno", "Eval", "Anno_coarse", ""].map { ((root as NSString).appendingPathComponent($0) as NSString).appendingPathComponent(name) }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw .unreadable(file: candidates[0], reason: "not found (looked in Anno/, Eval/ and the root)")
        }
        return found
    }

    /// Reads the six list files under `root`.
    public static func read(root: String) throws(ManifestError) -> PhotoManifest {
        // Categories.
        let categoryClothPath = try locate("list_category_cloth.txt", root: root)
        var categories: [String] = [], categoryType: [Int32] = []
        for e in try entries(categoryClothPath) {
            guard e.fields.count >= 2, let t = Int(e.fields.last!), (1...3).contains(t) else {
                throw .badField(file: categoryClothPath, line: e.line, column: "category_type", value: e.fields.last.map(String.init) ?? "",
                                reason: "is not 1, 2 or 3")
            }
            categories.append(e.fields.dropLast().joined(separator: " "))
            categoryType.append(Int32(t - 1))
        }
        // Attributes.
        let attrClothPath = try locate("list_attr_cloth.txt", root: root)
        var attributeNames: [String] = [], attributeType: [Int] = []
        for e in try entries(attrClothPath) {
            guard e.fields.count >= 2, let t = Int(e.fields.last!), (1...5).contains(t) else {
                throw .badField(file: attrClothPath, line: e.line, column: "attribute_type", value: e.fields.last.map(String.init) ?? "",
                                reason: "is not 1...5")
            }
            attributeNames.append(e.fields.dropLast().joined(separator: " "))
            attributeType.append(t - 1)
        }
        let k = attributeNames.count
        var rejected: [ManifestError] = []

        // Per image: category, attributes, box, split; keyed by image name.
        let categoryImgPath = try locate("list_category_img.txt", root: root)
        var category: [Substring: Int32] = [:]
        for e in try entries(categoryImgPath) {
            guard e.fields.count == 2, let c = Int(e.fields[1]), (1...categories.count).contains(c) else {
                rejected.append(.badField(file: categoryImgPath, line: e.line, column: "category_label",
                                          value: e.fields.dropFirst().joined(separator: " "), reason: "is not a category 1...\(categories.count)"))
                continue
            }
            category[e.fields[0]] = Int32(c - 1)
        }
        let attrImgPath = try locate("list_attr_img.txt", root: root)
        var targets: [Substring: [Int8]] = [:]
        for e in try entries(attrImgPath) {
            guard e.fields.count == k + 1 else {
                rejected.append(.columnCount(file: attrImgPath, line: e.line, found: e.fields.count - 1, expected: k))
                continue
            }
            var row = [Int8](repeating: -1, count: k)
            var ok = true
            for j in 0..<k {
                switch e.fields[j + 1] {
                case "1": row[j] = 1
                case "-1": row[j] = 0
                case "0": row[j] = -1
                default: ok = false
                }
            }
            guard ok else {
                rejected.append(.badField(file: attrImgPath, line: e.line, column: "attribute_labels", value: String(e.fields[0]),
                                          reason: "has a value other than 1, -1 or 0"))
                continue
            }
            targets[e.fields[0]] = row
        }
        let bboxPath = try locate("list_bbox.txt", root: root)
        var boxes: [Substring: CropBox] = [:]
        for e in try entries(bboxPath) {
            let v = e.fields.dropFirst().compactMap { Int($0) }
            guard e.fields.count == 5, v.count == 4 else {
                rejected.append(.badField(file: bboxPath, line: e.line, column: "x_1 y_1 x_2 y_2",
                                          value: e.fields.dropFirst().joined(separator: " "), reason: "are not four pixel coordinates"))
                continue
            }
            boxes[e.fields[0]] = CropBox(x1: v[0], y1: v[1], x2: v[2], y2: v[3])
        }
        let partitionPath = try locate("list_eval_partition.txt", root: root)
        let imageRoot = FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent("Img"))
            ? (root as NSString).appendingPathComponent("Img") : root
        var rows: [PhotoRow] = []
        var firstLine: [Substring: Int] = [:]
        for e in try entries(partitionPath) {
            guard e.fields.count == 2, let split = PhotoManifest.canonicalSplit(String(e.fields[1])) else {
                rejected.append(.badField(file: partitionPath, line: e.line, column: "evaluation_status",
                                          value: e.fields.dropFirst().joined(separator: " "), reason: "is not train, val or test"))
                continue
            }
            let name = e.fields[0]
            if let first = firstLine[name] {
                rejected.append(.duplicate(file: partitionPath, line: e.line, path: String(name), firstLine: first))
                continue
            }
            firstLine[name] = e.line
            guard let c = category[name], let t = targets[name], let box = boxes[name] else {
                let where_ = category[name] == nil ? "list_category_img.txt" : targets[name] == nil ? "list_attr_img.txt" : "list_bbox.txt"
                rejected.append(.badField(file: partitionPath, line: e.line, column: "image_name", value: String(name),
                                          reason: "has no valid entry in \(where_)"))
                continue
            }
            guard box.x2 > box.x1, box.y2 > box.y1 else {
                rejected.append(.badImage(file: partitionPath, line: e.line, path: String(name), error: .emptyBox(box: box)))
                continue
            }
            rows.append(PhotoRow(line: e.line, name: String(name), path: (imageRoot as NSString).appendingPathComponent(String(name)),
                                 box: box, split: split, labels: [c, categoryType[Int(c)]], targets: t))
        }
        var attributes = [
            PhotoAttribute(info: AttributeInfo(name: "category", kind: .softmax, classNames: categories), storage: .label(index: 0)),
            PhotoAttribute(info: AttributeInfo(name: "category_type", kind: .softmax, classNames: categoryTypes), storage: .label(index: 1)),
            PhotoAttribute(info: AttributeInfo(name: "attributes", kind: .multilabel, classNames: attributeNames),
                           storage: .targets(columns: Array(0..<k))),
        ]
        for (t, typeName) in attributeTypes.enumerated() {
            let columns = (0..<k).filter { attributeType[$0] == t }
            guard !columns.isEmpty else { continue }
            attributes.append(PhotoAttribute(info: AttributeInfo(name: typeName, kind: .multilabel, classNames: columns.map { attributeNames[$0] }),
                                             storage: .targets(columns: columns)))
        }
        return PhotoManifest(file: partitionPath, attributes: attributes, rows: rows, rejected: rejected,
                             source: "DeepFashion Category and Attribute Prediction benchmark")
    }
}
