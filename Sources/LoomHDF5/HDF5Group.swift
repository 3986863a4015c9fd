import CHDF5
import CHDF5Shim

/// A group inside an ``HDF5File``: a place to read and write datasets and attributes.
///
/// Paths given to its methods are relative to this group and may contain `/`
/// (`"layers/linear/x"`); a path starting with `/` is absolute, and `"."` is the group
/// itself. A group value is just a file and a path: it holds no HDF5 handle.
public struct HDF5Group {
    /// The file this group lives in.
    public let file: HDF5File
    /// Absolute path of the group, `"/"` for the root.
    public let path: String

    init(file: HDF5File, path: String) {
        self.file = file
        self.path = path
    }

    // MARK: Paths

    /// The absolute, normalised path of `relative` (no empty or `.` components).
    func absolute(_ relative: String) -> String {
        let base = relative.hasPrefix("/") ? [] : path.split(separator: "/")
        let parts = base + relative.split(separator: "/").filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    /// Error context for an operation on the object at `relative`.
    func call(_ relative: String) -> HDF5Call {
        HDF5Call(file: file.path, object: absolute(relative))
    }

    // MARK: Structure

    /// True if a link exists at `path`. Each component is checked in turn, so a missing
    /// intermediate group (or a dataset used as one) gives `false`, not an error.
    public func exists(_ path: String) -> Bool {
        HDF5Library.serialized { linkExists(absolute(path)) }
    }

    /// True if `path` exists and is a group.
    public func isGroup(_ path: String) -> Bool {
        HDF5Library.serialized { objectKind(absolute(path)) == H5I_GROUP }
    }

    /// True if `path` exists and is a dataset.
    public func isDataset(_ path: String) -> Bool {
        HDF5Library.serialized { objectKind(absolute(path)) == H5I_DATASET }
    }

    /// The existing group at `path`.
    public func group(_ path: String) throws(HDF5Error) -> HDF5Group {
        let target = absolute(path)
        let call = call(path)
        return try HDF5Library.serialized { () throws(HDF5Error) -> HDF5Group in
            _ = try file.handle(for: target)
            switch objectKind(target) {
            case H5I_GROUP: return HDF5Group(file: file, path: target)
            case nil: throw call.error("no such group")
            default: throw call.error("is not a group")
            }
        }
    }

    /// The group at `path`, created with any missing intermediate groups if absent.
    public func createGroup(_ path: String) throws(HDF5Error) -> HDF5Group {
        let target = absolute(path)
        let call = call(path)
        return try HDF5Library.serialized { () throws(HDF5Error) -> HDF5Group in
            let fid = try file.handle(for: target)
            switch objectKind(target) {
            case H5I_GROUP: return HDF5Group(file: file, path: target)
            case nil: break
            default: throw call.error("cannot create group: another kind of object exists there")
            }
            let lcpl = try intermediateGroupsLinkList(call)
            defer { H5Pclose(lcpl) }
            let gid = try call.id(H5Gcreate2(fid, target, lcpl, HDF5Library.defaultPlist, HDF5Library.defaultPlist),
                                  "cannot create group")
            H5Gclose(gid)
            return HDF5Group(file: file, path: target)
        }
    }

    /// Names of the links directly in this group (or in the group at `path`), sorted.
    public func children(_ path: String = ".") throws(HDF5Error) -> [String] {
        let target = absolute(path)
        let call = call(path)
        return try HDF5Library.serialized { () throws(HDF5Error) -> [String] in
            let fid = try file.handle(for: target)
            guard objectKind(target) == H5I_GROUP else { throw call.error("no such group") }
            var info = H5G_info_t()
            try call.check(H5Gget_info_by_name(fid, target, &info, HDF5Library.defaultPlist), "cannot list group")
            var names: [String] = []
            for index in 0..<info.nlinks {
                let length = H5Lget_name_by_idx(fid, target, H5_INDEX_NAME, H5_ITER_INC, index, nil, 0,
                                                HDF5Library.defaultPlist)
                guard length >= 0 else { throw HDF5Error.fromLibrary(file: file.path, object: target, "cannot list group") }
                var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                _ = H5Lget_name_by_idx(fid, target, H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count,
                                       HDF5Library.defaultPlist)
                names.append(decodeCString(buffer))
            }
            return names.sorted()
        }
    }

    /// Removes the link at `path` (a dataset or a whole group). Throws if absent.
    public func remove(_ path: String) throws(HDF5Error) {
        let target = absolute(path)
        let call = call(path)
        try HDF5Library.serialized { () throws(HDF5Error) in
            let fid = try file.handle(for: target)
            guard target != "/" else { throw call.error("cannot remove the root group") }
            guard linkExists(target) else { throw call.error("cannot remove: no such object") }
            try call.check(H5Ldelete(fid, target, HDF5Library.defaultPlist), "cannot remove")
        }
    }

    // MARK: Internals (callers hold the library lock)

    /// True if every component of the absolute path `target` is a link.
    func linkExists(_ target: String) -> Bool {
        guard file.isOpen, let fid = try? file.handle(for: target) else { return false }
        var prefix = ""
        for component in target.split(separator: "/") {
            prefix += "/" + component
            if H5Lexists(fid, prefix, HDF5Library.defaultPlist) <= 0 { return false }
        }
        return true
    }

    /// `H5I_GROUP`, `H5I_DATASET`, `H5I_DATATYPE`, or nil if nothing (resolvable) is there.
    func objectKind(_ target: String) -> H5I_type_t? {
        guard linkExists(target), let fid = try? file.handle(for: target) else { return nil }
        let oid = H5Oopen(fid, target, HDF5Library.defaultPlist)
        guard oid >= 0 else { return nil }
        defer { H5Oclose(oid) }
        return H5Iget_type(oid)
    }

    /// A link creation property list that creates missing intermediate groups.
    func intermediateGroupsLinkList(_ call: HDF5Call) throws(HDF5Error) -> hid_t {
        let lcpl = try call.id(H5Pcreate(loom_h5p_link_create()), "cannot create link property list")
        H5Pset_create_intermediate_group(lcpl, 1)
        return lcpl
    }
}

/// Decodes a NUL-terminated C string buffer as UTF-8 (invalid bytes repaired).
func decodeCString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
