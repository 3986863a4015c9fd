// Attribute reads for the loader: a missing required attribute or one of the wrong kind
// becomes a CheckpointError naming the attribute and its object.

import LoomHDF5

/// Reads attributes of one checkpoint file, turning absence and wrong kinds into `CheckpointError`s.
struct AttributeReader {
    let path: String
    let root: HDF5Group

    func string(_ name: String, on object: String) throws(CheckpointError) -> String {
        try require(optionalString(name, on: object), name, object)
    }

    func int(_ name: String, on object: String) throws(CheckpointError) -> Int {
        try require(get(name, object) { (n, o) throws(HDF5Error) in try root.intAttribute(n, on: o) }, name, object)
    }

    func optionalInt(_ name: String, on object: String) throws(CheckpointError) -> Int? {
        try get(name, object) { (n, o) throws(HDF5Error) in try root.intAttribute(n, on: o) }
    }

    func double(_ name: String, on object: String) throws(CheckpointError) -> Double {
        try require(get(name, object) { (n, o) throws(HDF5Error) in try root.doubleAttribute(n, on: o) }, name, object)
    }

    func doubles(_ name: String, on object: String) throws(CheckpointError) -> [Double] {
        try require(get(name, object) { (n, o) throws(HDF5Error) in try root.doubleArrayAttribute(n, on: o) }, name, object)
    }

    /// A u64 stored as a hex string (see `CheckpointLayout.hex`).
    func hex(_ name: String, on object: String) throws(CheckpointError) -> UInt64 {
        let text = try string(name, on: object)
        guard let v = CheckpointLayout.parseHex(text) else {
            throw CheckpointError(path: path, reason: .invalid(object: label(name, object), detail: "'\(text)' is not a hex u64"))
        }
        return v
    }

    func optionalString(_ name: String, on object: String) throws(CheckpointError) -> String? {
        try get(name, object) { (n, o) throws(HDF5Error) in try root.stringAttribute(n, on: o) }
    }

    func optionalStrings(_ name: String, on object: String) throws(CheckpointError) -> [String]? {
        try get(name, object) { (n, o) throws(HDF5Error) in try root.stringArrayAttribute(n, on: o) }
    }

    // MARK: - Helpers

    /// `attribute 'step' on /optimizer`.
    private func label(_ name: String, _ object: String) -> String {
        "attribute '\(name)' on " + (object.hasPrefix("/") ? object : "/" + object)
    }

    private func get<T>(_ name: String, _ object: String,
                        _ read: (String, String) throws(HDF5Error) -> T?) throws(CheckpointError) -> T? {
        do {
            return try read(name, object)
        } catch {
            throw CheckpointError(path: path, reason: .invalid(object: label(name, object), detail: error.message))
        }
    }

    private func require<T>(_ value: T?, _ name: String, _ object: String) throws(CheckpointError) -> T {
        guard let value else { throw CheckpointError(path: path, reason: .missing(object: label(name, object))) }
        return value
    }
}
