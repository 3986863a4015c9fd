// Reading a dataset file (docs/ARCHITECTURE.md, "Dataset file"). Opening checks the layout (root
// attrs, attribute declarations); splits are checked when first asked for; samples are
// then served by index without the caller knowing how they are stored.

import Foundation
import LoomHDF5

/// An open, validated dataset file.
///
/// Thread-safe: splits are created once under a lock, and HDF5 access goes through
/// LoomHDF5's process-wide lock.
public final class Dataset: @unchecked Sendable {
    public let path: String
    /// Root attrs `name`, `source`, `license`, `fingerprint` (content hash, hex).
    public let name: String
    public let source: String
    public let license: String
    public let fingerprint: String
    /// Declared attributes (`/attributes/<name>`), sorted by name.
    public let attributes: [AttributeInfo]
    /// Names of the splits (root groups holding an `images` dataset), sorted.
    public let splitNames: [String]

    /// Image bytes below which a split is held in memory.
    public let residentLimit: Int
    let file: HDF5File
    private let lock = NSLock()
    private var openSplits: [String: DatasetSplit] = [:]

    /// Opens and validates `path`.
    /// - Throws: `.fileNotFound`; `.missingObject` for a missing root attr or attribute
    ///   declaration field; `.badLayout` for an unknown attribute kind or a file without splits.
    /// - Parameter residentLimit: splits whose images take fewer bytes are loaded into
    ///   memory at first use (see `DatasetSplit`); 0 = always stream from the file.
    public init(path: String, residentLimit: Int = DatasetSplit.defaultResidentLimit) throws(DatasetError) {
        self.residentLimit = residentLimit
        guard FileManager.default.isReadableFile(atPath: path) else { throw .fileNotFound(file: path) }
        do throws(HDF5Error) {
            file = try HDF5File.open(path, mode: .readOnly)
        } catch {
            throw .badLayout(file: path, object: "/", reason: "not a readable HDF5 file (\(error.message))")
        }
        self.path = path
        let root = file.root
        func rootAttr(_ key: String) throws(DatasetError) -> String {
            let value: String?
            do throws(HDF5Error) { value = try root.stringAttribute(key) } catch { throw .hdf5(error) }
            guard let value else { throw .missingObject(file: path, object: "root attribute '\(key)'") }
            return value
        }
        name = try rootAttr("name")
        fingerprint = try rootAttr("fingerprint")
        source = (try? root.stringAttribute("source")) ?? nil ?? ""
        license = (try? root.stringAttribute("license")) ?? nil ?? ""

        var infos: [AttributeInfo] = []
        var splits: [String] = []
        do {
            if root.isGroup("attributes") {
                for a in try root.children("attributes") {
                    let object = "attributes/\(a)"
                    guard let kindName = try root.stringAttribute("kind", on: object) else {
                        throw DatasetError.missingObject(file: path, object: "attribute 'kind' of /\(object)")
                    }
                    guard let kind = AttributeInfo.Kind(rawValue: kindName) else {
                        throw DatasetError.badLayout(file: path, object: "/\(object)",
                                                     reason: "kind '\(kindName)' is not softmax, multilabel or binary")
                    }
                    guard let classes = try root.stringArrayAttribute("class_names", on: object) else {
                        throw DatasetError.missingObject(file: path, object: "attribute 'class_names' of /\(object)")
                    }
                    infos.append(AttributeInfo(name: a, kind: kind, classNames: classes))
                }
            }
            for child in try root.children() where child != "attributes" && root.isGroup(child) {
                if root.isDataset("\(child)/images") { splits.append(child) }
            }
        } catch let e as DatasetError {
            throw e
        } catch let e as HDF5Error {
            throw .hdf5(e)
        } catch {
            throw .io(file: path, reason: "\(error)")
        }
        guard !splits.isEmpty else {
            throw .badLayout(file: path, object: "/", reason: "no split (a group with an 'images' dataset)")
        }
        attributes = infos
        splitNames = splits
    }

    /// The split `name` (e.g. `train`, `test`), validated on first use and then shared.
    /// - Throws: `.missingObject` if absent, `.badLayout` if its images are not uint8
    ///   `[N, H, W, C]` or a label/target array does not have N rows.
    public func split(_ name: String) throws(DatasetError) -> DatasetSplit {
        lock.lock()
        defer { lock.unlock() }
        if let s = openSplits[name] { return s }
        guard splitNames.contains(name) else {
            throw .missingObject(file: path, object: "split '/\(name)' (the file has \(splitNames.joined(separator: ", ")))")
        }
        let s = try DatasetSplit(dataset: self, name: name)
        openSplits[name] = s
        return s
    }

    /// The declaration of attribute `name`.
    public func attribute(_ name: String) throws(DatasetError) -> AttributeInfo {
        guard let a = attributes.first(where: { $0.name == name }) else {
            throw .missingObject(file: path, object: "attribute '/attributes/\(name)'")
        }
        return a
    }
}
