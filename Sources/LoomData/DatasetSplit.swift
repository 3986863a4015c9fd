// One split of a dataset: its labels, targets and images served by sample index.
//
// Image storage policy: a split whose images take less than 256 MiB (`residentLimit`;
// Fashion-MNIST's train split is 47 MB, the attribute benchmark's 141 MB) is read into
// memory once, at the first `readImages`, and then served by memcpy; every worker then
// pays one sequential read instead of a hyperslab read per step. Larger splits are read
// on demand: sorted runs of consecutive indices become one hyperslab read each, straight
// into the caller's buffer.

import Foundation
import LoomHDF5

/// A split (`/<name>` group) of a dataset. Thread-safe.
public final class DatasetSplit: @unchecked Sendable {
    /// Splits whose images are smaller than this many bytes are kept in memory.
    public static let defaultResidentLimit = 256 << 20

    public let name: String
    /// Number of samples N.
    public let count: Int
    /// Shape of one stored image `(H, W, C)`.
    public let imageShape: ImageShape
    /// Attributes with a `/<split>/labels/<attribute>` array, sorted.
    public let labelNames: [String]
    /// Names with a `/<split>/targets/<name>` array, sorted.
    public let targetNames: [String]
    /// True when images are (or will be, at first read) held in memory.
    public var isResident: Bool { count * imageShape.elementCount < residentLimit }
    /// The dataset's file path (for error messages that name the file).
    public let path: String

    /// The dataset's open file and attribute declarations (not the `Dataset` itself, which
    /// holds its splits: no reference cycle); K of every target array.
    private let file: HDF5File
    private let attributes: [AttributeInfo]
    private let residentLimit: Int
    private let targetWidths: [String: Int]
    private let lock = NSLock()
    private var resident: [UInt8]?

    init(dataset: Dataset, name: String) throws(DatasetError) {
        path = dataset.path
        file = dataset.file
        attributes = dataset.attributes
        residentLimit = dataset.residentLimit
        self.name = name
        let root = file.root
        let imagesPath = "\(name)/images"
        do throws(HDF5Error) {
            let shape = try root.shape(of: imagesPath)
            let type = try root.elementType(of: imagesPath)
            guard shape.count == 4, type == .uint8 else {
                throw HDF5Error(file: path, object: "/\(imagesPath)", message: "expected uint8 [N, H, W, C], found \(type) \(shape)")
            }
            count = shape[0]
            imageShape = ImageShape(height: shape[1], width: shape[2], channels: shape[3])
            labelNames = root.isGroup("\(name)/labels") ? try root.children("\(name)/labels") : []
            targetNames = root.isGroup("\(name)/targets") ? try root.children("\(name)/targets") : []
            for l in labelNames {
                let s = try root.shape(of: "\(name)/labels/\(l)")
                guard s == [count] else {
                    throw HDF5Error(file: path, object: "/\(name)/labels/\(l)", message: "shape \(s), expected [\(count)] (one per image)")
                }
            }
            var widths: [String: Int] = [:]
            for t in targetNames {
                let s = try root.shape(of: "\(name)/targets/\(t)")
                guard s.count == 2, s[0] == count else {
                    throw HDF5Error(file: path, object: "/\(name)/targets/\(t)", message: "shape \(s), expected [\(count), K]")
                }
                widths[t] = s[1]
            }
            targetWidths = widths
        } catch {
            throw .badLayout(file: error.file, object: error.object, reason: error.message)
        }
    }

    /// Class labels of every sample for `attribute` (-1 = not labelled), length N.
    /// - Throws: `.missingObject` if the split has no such labels; `.badLayout` if a value
    ///   lies outside -1..<classes of the attribute's declaration.
    public func labels(_ attribute: String) throws(DatasetError) -> [Int32] {
        let object = "\(name)/labels/\(attribute)"
        guard labelNames.contains(attribute) else {
            throw .missingObject(file: path, object: "labels '/\(object)' (split has: \(labelNames.joined(separator: ", ")))")
        }
        let values: [Int32]
        do throws(HDF5Error) { values = try file.root.read(Int32.self, object).values } catch { throw .hdf5(error) }
        if let info = attributes.first(where: { $0.name == attribute }), info.kind != .multilabel {
            let classes = info.kind == .binary ? max(2, info.classNames.count) : info.classNames.count
            if let bad = values.firstIndex(where: { $0 < -1 || $0 >= classes }) {
                throw .badLayout(file: path, object: "/\(object)",
                                 reason: "value \(values[bad]) at index \(bad) is outside -1..<\(classes)")
            }
        }
        return values
    }

    /// K of the targets `name` (columns of `/<split>/targets/<name>`), nil if absent.
    public func targetWidth(_ name: String) -> Int? { targetWidths[name] }

    /// The float targets `name` as (K, values `(N, K)` row-major), or nil if absent.
    public func targets(_ name: String) throws(DatasetError) -> (k: Int, values: [Float])? {
        guard targetNames.contains(name) else { return nil }
        do throws(HDF5Error) {
            let a = try file.root.read(Float.self, "\(self.name)/targets/\(name)")
            return (a.shape[1], a.values)
        } catch {
            throw .hdf5(error)
        }
    }

    /// Copies the images of `indices` (any order, repeats allowed) into `output`
    /// `(indices.count, H, W, C)` uint8.
    /// - Throws: `.invalidRequest` for an index outside 0..<N.
    public func readImages(indices: [Int], into output: UnsafeMutablePointer<UInt8>) throws(DatasetError) {
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw .invalidRequest(file: path, reason: "sample index \(bad) outside 0..<\(count) of split '\(name)'")
        }
        let size = imageShape.elementCount
        if isResident {
            let all = try residentImages()
            all.withUnsafeBufferPointer { src in
                for (k, i) in indices.enumerated() {
                    (output + k * size).update(from: src.baseAddress! + i * size, count: size)
                }
            }
            return
        }
        // Runs of consecutive indices at consecutive positions: one hyperslab each.
        var k = 0
        while k < indices.count {
            var end = k + 1
            while end < indices.count && indices[end] == indices[end - 1] + 1 { end += 1 }
            let rows = indices[k]..<(indices[end - 1] + 1)
            let buffer = UnsafeMutableBufferPointer(start: output + k * size, count: rows.count * size)
            do throws(HDF5Error) {
                try file.root.readRows(UInt8.self, "\(name)/images", rows: rows, into: buffer)
            } catch {
                throw .hdf5(error)
            }
            k = end
        }
    }

    /// The images of `indices` as a new array `(indices.count, H, W, C)`.
    public func readImages(indices: [Int]) throws(DatasetError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: indices.count * imageShape.elementCount)
        guard !out.isEmpty else { return out }
        try out.withUnsafeMutableBufferPointer { (b) throws(DatasetError) in
            try readImages(indices: indices, into: b.baseAddress!)
        }
        return out
    }

    /// Loads every image once (under the lock, so concurrent first readers load once).
    private func residentImages() throws(DatasetError) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        if let r = resident { return r }
        do throws(HDF5Error) {
            let all = try file.root.read(UInt8.self, "\(name)/images").values
            resident = all
            return all
        } catch {
            throw .hdf5(error)
        }
    }
}
