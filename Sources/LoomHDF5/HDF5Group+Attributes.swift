import CHDF5
import CHDF5Shim
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Attributes on this group (`object: "."`) or on any object below it.
///
/// Writers replace an existing attribute of the same name whatever its type. Numbers are
/// stored as int64 / float64, strings as variable-length UTF-8 (what h5py writes for
/// `str`, read back by h5py as `str`). Readers return nil when the attribute is absent
/// and throw when it exists with the wrong kind of value.
extension HDF5Group {
    public func setAttribute(_ name: String, _ value: String, on object: String = ".") throws(HDF5Error) {
        try setStringAttribute(name, [value], scalar: true, on: object)
    }

    public func setAttribute(_ name: String, _ value: Int, on object: String = ".") throws(HDF5Error) {
        try setNumericAttribute(name, [value], scalar: true, on: object)
    }

    public func setAttribute(_ name: String, _ value: Double, on object: String = ".") throws(HDF5Error) {
        try setNumericAttribute(name, [value], scalar: true, on: object)
    }

    /// Stored as a 1-D int64 array (an empty array gives a 0-length 1-D attribute).
    public func setAttribute(_ name: String, _ value: [Int], on object: String = ".") throws(HDF5Error) {
        try setNumericAttribute(name, value, scalar: false, on: object)
    }

    /// Stored as a 1-D float64 array.
    public func setAttribute(_ name: String, _ value: [Double], on object: String = ".") throws(HDF5Error) {
        try setNumericAttribute(name, value, scalar: false, on: object)
    }

    /// Stored as a 1-D array of variable-length UTF-8 strings.
    public func setAttribute(_ name: String, _ value: [String], on object: String = ".") throws(HDF5Error) {
        try setStringAttribute(name, value, scalar: false, on: object)
    }

    /// Names of the attributes on `object`, sorted.
    public func attributeNames(on object: String = ".") throws(HDF5Error) -> [String] {
        let target = absolute(object)
        let call = call(object)
        return try HDF5Library.serialized { () throws(HDF5Error) -> [String] in
            let oid = try openObject(target, call)
            defer { H5Oclose(oid) }
            let count = H5Aget_num_attrs(oid)
            guard count >= 0 else { throw HDF5Error.fromLibrary(file: call.file, object: target, "cannot count attributes") }
            var names: [String] = []
            for index in 0..<hsize_t(count) {
                let length = H5Aget_name_by_idx(oid, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0,
                                                HDF5Library.defaultPlist)
                guard length >= 0 else { throw HDF5Error.fromLibrary(file: call.file, object: target, "cannot list attributes") }
                var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                _ = H5Aget_name_by_idx(oid, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count,
                                       HDF5Library.defaultPlist)
                names.append(decodeCString(buffer))
            }
            return names.sorted()
        }
    }

    /// A string attribute (fixed- or variable-length), nil if absent.
    public func stringAttribute(_ name: String, on object: String = ".") throws(HDF5Error) -> String? {
        guard let values = try stringArrayAttribute(name, on: object) else { return nil }
        return try single(values, name, object)
    }

    /// An integer attribute, nil if absent. A float attribute is accepted if it holds a
    /// whole number.
    public func intAttribute(_ name: String, on object: String = ".") throws(HDF5Error) -> Int? {
        guard let values = try intArrayAttribute(name, on: object) else { return nil }
        return try single(values, name, object)
    }

    /// A numeric attribute of any integer or float type as `Double`, nil if absent.
    public func doubleAttribute(_ name: String, on object: String = ".") throws(HDF5Error) -> Double? {
        guard let values = try doubleArrayAttribute(name, on: object) else { return nil }
        return try single(values, name, object)
    }

    /// All values of an integer attribute (a scalar gives one element), nil if absent.
    public func intArrayAttribute(_ name: String, on object: String = ".") throws(HDF5Error) -> [Int]? {
        try readAttribute(name, on: object) { (attribute, type, count, call) throws(HDF5Error) -> [Int] in
            let kind = HDF5ElementType(typeID: type)
            guard kind.isNumeric else { throw call.error("holds \(kind) values, expected integers") }
            if H5Tget_class(type) == H5T_FLOAT {
                let doubles: [Double] = try readNumbers(attribute, count, call)
                return try doubles.map { (value) throws(HDF5Error) -> Int in
                    guard let whole = Int(exactly: value) else { throw call.error("value \(value) is not an integer") }
                    return whole
                }
            }
            return try readNumbers(attribute, count, call)
        }
    }

    /// All values of a numeric attribute as `Double`s, nil if absent.
    public func doubleArrayAttribute(_ name: String, on object: String = ".") throws(HDF5Error) -> [Double]? {
        try readAttribute(name, on: object) { (attribute, type, count, call) throws(HDF5Error) -> [Double] in
            let kind = HDF5ElementType(typeID: type)
            guard kind.isNumeric else { throw call.error("holds \(kind) values, expected numbers") }
            return try readNumbers(attribute, count, call)
        }
    }

    /// All values of a string attribute (fixed- or variable-length), nil if absent.
    public func stringArrayAttribute(_ name: String, on object: String = ".") throws(HDF5Error) -> [String]? {
        try readAttribute(name, on: object) { (attribute, type, count, call) throws(HDF5Error) -> [String] in
            guard H5Tget_class(type) == H5T_STRING else {
                throw call.error("holds \(HDF5ElementType(typeID: type)) values, expected strings")
            }
            return try readStrings(attribute, type, count, call)
        }
    }

    // MARK: Writing internals

    private func setNumericAttribute<T: HDF5Scalar>(_ name: String, _ values: [T], scalar: Bool,
                                                     on object: String) throws(HDF5Error) {
        try writeAttribute(name, on: object, type: T.hdf5MemoryType, count: values.count, scalar: scalar) {
            (attribute, call) throws(HDF5Error) in
            guard !values.isEmpty else { return }
            let status = values.withUnsafeBufferPointer { H5Awrite(attribute, T.hdf5MemoryType, $0.baseAddress) }
            try call.check(status, "cannot write attribute")
        }
    }

    private func setStringAttribute(_ name: String, _ values: [String], scalar: Bool,
                                    on object: String) throws(HDF5Error) {
        let call = HDF5Call(file: file.path, object: absolute(object) + "@" + name)
        let type = try HDF5Library.serialized { () throws(HDF5Error) -> hid_t in
            try variableStringType(cset: H5T_CSET_UTF8, call)
        }
        defer { HDF5Library.serialized { _ = H5Tclose(type) } }
        try writeAttribute(name, on: object, type: type, count: values.count, scalar: scalar) {
            (attribute, call) throws(HDF5Error) in
            guard !values.isEmpty else { return }
            // HDF5 copies the bytes during H5Awrite; the C strings live until after it.
            let cStrings: [UnsafeMutablePointer<CChar>?] = values.map { strdup($0) }
            defer { cStrings.forEach { free($0) } }
            try call.check(H5Awrite(attribute, type, cStrings), "cannot write string attribute")
        }
    }

    /// Replaces attribute `name` on `object` with a new one of `type` and `count`
    /// elements (scalar or 1-D), then lets `fill` write its values.
    private func writeAttribute(_ name: String, on object: String, type: hid_t, count: Int, scalar: Bool,
                                _ fill: (hid_t, HDF5Call) throws(HDF5Error) -> Void) throws(HDF5Error) {
        let target = absolute(object)
        let call = HDF5Call(file: file.path, object: target + "@" + name)
        try HDF5Library.serialized { () throws(HDF5Error) in
            let oid = try openObject(target, HDF5Call(file: file.path, object: target))
            defer { H5Oclose(oid) }
            let present = H5Aexists(oid, name)
            try call.check(present, "cannot check attribute")
            if present > 0 { try call.check(H5Adelete(oid, name), "cannot replace attribute") }
            let space = scalar
                ? try call.id(H5Screate(H5S_SCALAR), "cannot create dataspace")
                : try call.id(H5Screate_simple(1, [hsize_t(count)], nil), "cannot create dataspace [\(count)]")
            defer { H5Sclose(space) }
            let attribute = try call.id(H5Acreate2(oid, name, type, space, HDF5Library.defaultPlist,
                                                   HDF5Library.defaultPlist), "cannot create attribute")
            defer { H5Aclose(attribute) }
            try fill(attribute, call)
        }
    }

    // MARK: Reading internals

    /// Opens attribute `name` on `object` and passes it with its file type and element
    /// count to `body`; nil if the object has no such attribute.
    private func readAttribute<R>(_ name: String, on object: String,
                                  _ body: (hid_t, hid_t, Int, HDF5Call) throws(HDF5Error) -> R) throws(HDF5Error) -> R? {
        let target = absolute(object)
        let call = HDF5Call(file: file.path, object: target + "@" + name)
        return try HDF5Library.serialized { () throws(HDF5Error) -> R? in
            let oid = try openObject(target, HDF5Call(file: file.path, object: target))
            defer { H5Oclose(oid) }
            let present = H5Aexists(oid, name)
            try call.check(present, "cannot check attribute")
            guard present > 0 else { return nil }
            let attribute = try call.id(H5Aopen(oid, name, HDF5Library.defaultPlist), "cannot open attribute")
            defer { H5Aclose(attribute) }
            let type = try call.id(H5Aget_type(attribute), "cannot read attribute type")
            defer { H5Tclose(type) }
            let space = try call.id(H5Aget_space(attribute), "cannot read attribute dataspace")
            defer { H5Sclose(space) }
            let count = H5Sget_simple_extent_npoints(space)
            guard count >= 0 else { throw HDF5Error.fromLibrary(file: call.file, object: call.object, "cannot count values") }
            // The file declares the count; Loom's attributes are short lists (names, shapes).
            guard count <= 1 << 24 else {
                throw call.error("\(count) values, more than the 2^24 an attribute may hold")
            }
            return try body(attribute, type, Int(count), call)
        }
    }

    private func readNumbers<T: HDF5Scalar>(_ attribute: hid_t, _ count: Int, _ call: HDF5Call) throws(HDF5Error) -> [T] {
        guard count > 0 else { return [] }
        var status: herr_t = 0
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = H5Aread(attribute, T.hdf5MemoryType, buffer.baseAddress)
            initialized = count
        }
        try call.check(status, "cannot read attribute as \(T.self)")
        return values
    }

    private func readStrings(_ attribute: hid_t, _ fileType: hid_t, _ count: Int,
                             _ call: HDF5Call) throws(HDF5Error) -> [String] {
        guard count > 0 else { return [] }
        let variable = H5Tis_variable_str(fileType)
        try call.check(variable, "cannot inspect string type")
        if variable > 0 {
            let memoryType = try variableStringType(cset: H5Tget_cset(fileType), call)
            defer { H5Tclose(memoryType) }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try call.check(H5Aread(attribute, memoryType, &pointers), "cannot read string attribute")
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            // Free what HDF5 allocated for each string (H5Dvlen_reclaim works for attributes too).
            let space = H5Aget_space(attribute)
            if space >= 0 {
                H5Dvlen_reclaim(memoryType, space, HDF5Library.defaultPlist, &pointers)
                H5Sclose(space)
            }
            return strings
        }
        // Fixed length: each element is `size` bytes, NUL-terminated, NUL- or space-padded.
        let size = H5Tget_size(fileType)
        guard size > 0 else { throw call.error("string type has size 0") }
        let memoryType = try call.id(H5Tcopy(fileType), "cannot copy string type")
        defer { H5Tclose(memoryType) }
        var bytes = [UInt8](repeating: 0, count: count * size)
        try call.check(H5Aread(attribute, memoryType, &bytes), "cannot read string attribute")
        let spacePadded = H5Tget_strpad(fileType) == H5T_STR_SPACEPAD
        return (0..<count).map { index in
            var element = bytes[index * size ..< (index + 1) * size].prefix { $0 != 0 }
            if spacePadded { while element.last == 0x20 { element = element.dropLast() } }
            return String(decoding: element, as: UTF8.self)
        }
    }

    private func variableStringType(cset: H5T_cset_t, _ call: HDF5Call) throws(HDF5Error) -> hid_t {
        let type = try call.id(H5Tcopy(loom_h5t_c_s1()), "cannot create string type")
        if H5Tset_size(type, loom_h5t_variable()) < 0 || H5Tset_cset(type, cset) < 0 {
            let error = HDF5Error.fromLibrary(file: call.file, object: call.object, "cannot create string type")
            H5Tclose(type)
            throw error
        }
        return type
    }

    /// Opens any object (group, dataset, named type) at the absolute path `target`.
    private func openObject(_ target: String, _ call: HDF5Call) throws(HDF5Error) -> hid_t {
        let fid = try file.handle(for: target)
        guard objectKind(target) != nil else { throw call.error("no such object") }
        return try call.id(H5Oopen(fid, target, HDF5Library.defaultPlist), "cannot open object")
    }

    private func single<T>(_ values: [T], _ name: String, _ object: String) throws(HDF5Error) -> T {
        guard values.count == 1 else {
            throw HDF5Error(file: file.path, object: absolute(object) + "@" + name,
                            message: "holds \(values.count) values, expected exactly one")
        }
        return values[0]
    }
}
