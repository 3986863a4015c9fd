// What a photo import works from, whatever the source layout (a CSV manifest,
// StreetStyle-27k, DeepFashion): one row per image (and box), each with its split and
// its labels, plus the attribute declarations. Readers build it; PhotoImporter decodes the
// images and writes the dataset.

import LoomImage
import LoomKernels

/// One image (and crop box) to import.
public struct PhotoRow: Sendable {
    /// The line of the row in `PhotoManifest.file` (for messages).
    public var line: Int
    /// The image path as the manifest gives it (for messages).
    public var name: String
    /// The file to read.
    public var path: String
    public var box: CropBox?
    /// train, validation or test.
    public var split: String
    /// One class index per label attribute (`PhotoAttribute.Storage.label`), -1 = unlabelled.
    public var labels: [Int32]
    /// Multilabel values (1 present, 0 absent, -1 unlabelled) for `.targets` attributes.
    public var targets: [Int8]

    public init(line: Int, name: String, path: String, box: CropBox?, split: String,
                labels: [Int32], targets: [Int8] = []) {
        self.line = line; self.name = name; self.path = path; self.box = box; self.split = split
        self.labels = labels; self.targets = targets
    }
}

/// A dataset attribute and where its values sit in a `PhotoRow`.
public struct PhotoAttribute: Equatable, Sendable {
    public enum Storage: Equatable, Sendable {
        /// `/<split>/labels/<name>` int32 from `PhotoRow.labels[index]`.
        case label(index: Int)
        /// `/<split>/targets/<name>` float32 `[N, columns.count]` from `PhotoRow.targets[columns]`.
        case targets(columns: [Int])
    }

    public var info: AttributeInfo
    public var storage: Storage

    public init(info: AttributeInfo, storage: Storage) { self.info = info; self.storage = storage }
}

/// Rows and attributes of an import, and the rows its reader already rejected.
public struct PhotoManifest: Sendable {
    /// The manifest or annotation file the rows' lines refer to.
    public var file: String
    public var attributes: [PhotoAttribute]
    public var rows: [PhotoRow]
    /// Rows that cannot be imported, found while reading (in line order).
    public var rejected: [ManifestError]
    /// Text for the dataset's `source` attr.
    public var source: String

    public init(file: String, attributes: [PhotoAttribute], rows: [PhotoRow], rejected: [ManifestError] = [], source: String) {
        self.file = file; self.attributes = attributes; self.rows = rows; self.rejected = rejected; self.source = source
    }

    /// The canonical split names, in the order they are written.
    public static let splitNames = ["test", "train", "validation"]

    /// A split name as manifests spell it (train, validation / val / valid, test), or nil.
    public static func canonicalSplit(_ value: String) -> String? {
        switch value.trimmingCharacters(in: .whitespaces).lowercased() {
        case "train", "training": return "train"
        case "validation", "val", "valid": return "validation"
        case "test", "testing": return "test"
        default: return nil
        }
    }

    /// Assigns `count` rows to train / validation / test in the proportions `fractions`
    /// (three non-negative numbers summing to 1) by a shuffle seeded with `seed`: the first
    /// round(f0 * N) shuffled rows are train, the next round(f1 * N) validation, the rest test.
    /// Depends only on (count, fractions, seed), never on which rows turn out bad.
    public static func seededSplit(count: Int, fractions: [Double], seed: UInt64) -> [String] {
        var order = Array(0..<count)
        var rng = KeyedRandom(seed: seed, purpose: .dataset, keys: [0x5350_4C49_54])   // "SPLIT"
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = rng.nextInt(below: i + 1)
                order.swapAt(i, j)
            }
        }
        let train = Int((fractions[0] * Double(count)).rounded())
        let validation = min(count - train, Int((fractions[1] * Double(count)).rounded()))
        var out = [String](repeating: "test", count: count)
        for (k, row) in order.enumerated() {
            out[row] = k < train ? "train" : k < train + validation ? "validation" : "test"
        }
        return out
    }

    /// Parses `--split 0.8,0.1,0.1`.
    public static func parseFractions(_ text: String) throws(ManifestError) -> [Double] {
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ $0 != nil && $0! >= 0 && $0!.isFinite }) else {
            throw .badOption(option: "--split", reason: "'\(text)' is not three non-negative fractions train,validation,test")
        }
        let f = parts.map { $0! }
        guard abs(f.reduce(0, +) - 1) < 1e-6, f[0] > 0 else {
            throw .badOption(option: "--split", reason: "'\(text)' must sum to 1 with a positive train fraction")
        }
        return f
    }
}

import Foundation
