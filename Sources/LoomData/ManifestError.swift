// Errors of photo imports. Every case names the manifest (or annotation list) and the line
// of the row at fault, so a user can open the file at that line and fix it.

import LoomImage

/// What is wrong with a photo manifest, one of its rows or the image a row names.
public enum ManifestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The manifest (or an annotation file) cannot be read at all.
    case unreadable(file: String, reason: String)
    /// A line that is not valid UTF-8.
    case notUTF8(file: String, line: Int)
    /// A CSV syntax error (an unterminated quote...).
    case badCSV(file: String, line: Int, reason: String)
    /// A row with more or fewer fields than the header.
    case columnCount(file: String, line: Int, found: Int, expected: Int)
    /// The header lacks a column the import needs, or has one twice.
    case badHeader(file: String, reason: String)
    /// A field that cannot be read (a box coordinate that is not an integer...).
    case badField(file: String, line: Int, column: String, value: String, reason: String)
    /// A class value not in the `--classes` table of its attribute.
    case unknownClass(file: String, line: Int, attribute: String, value: String, known: [String])
    /// The same image (and box) as an earlier row.
    case duplicate(file: String, line: Int, path: String, firstLine: Int)
    /// The image file a row names does not exist or cannot be read.
    case missingImage(file: String, line: Int, path: String, reason: String)
    /// The image file exists but cannot be used (not an image, corrupt, truncated, box outside...).
    case badImage(file: String, line: Int, path: String, error: ImageError)
    /// A `--classes` file that is not a map of attribute names to class lists.
    case badClasses(file: String, reason: String)
    /// An option value the import cannot use.
    case badOption(option: String, reason: String)
    /// Nothing left to import.
    case noRows(file: String, reason: String)
    /// Writing the dataset failed.
    case output(DatasetError)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "\(file): \(reason)"
        case .notUTF8(let file, let line): return "\(file):\(line): not valid UTF-8 (save the manifest as UTF-8)"
        case .badCSV(let file, let line, let reason): return "\(file):\(line): \(reason)"
        case .columnCount(let file, let line, let found, let expected):
            return "\(file):\(line): \(found) fields, the header has \(expected)"
        case .badHeader(let file, let reason): return "\(file):1: \(reason)"
        case .badField(let file, let line, let column, let value, let reason):
            return "\(file):\(line): column \(column): '\(value)' \(reason)"
        case .unknownClass(let file, let line, let attribute, let value, let known):
            let list = known.count <= 12 ? known.joined(separator: ", ") : known.prefix(12).joined(separator: ", ") + ", ..."
            return "\(file):\(line): \(attribute) '\(value)' is not one of the classes given (\(list))"
        case .duplicate(let file, let line, let path, let first):
            return "\(file):\(line): \(path) (with the same box) already appears on line \(first)"
        case .missingImage(let file, let line, let path, let reason): return "\(file):\(line): \(path): \(reason)"
        case .badImage(let file, let line, let path, let error): return "\(file):\(line): \(path): \(error)"
        case .badClasses(let file, let reason): return "\(file): \(reason)"
        case .badOption(let option, let reason): return "\(option): \(reason)"
        case .noRows(let file, let reason): return "\(file): \(reason)"
        case .output(let e): return "\(e)"
        }
    }

    /// True for errors that concern one row only, which `--skip-bad` may skip.
    public var isRowError: Bool {
        switch self {
        case .notUTF8, .badCSV, .columnCount, .badField, .unknownClass, .duplicate, .missingImage, .badImage: return true
        default: return false
        }
    }
}
