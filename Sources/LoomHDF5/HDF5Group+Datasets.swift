import CHDF5
import CHDF5Shim

/// Reading and writing n-dimensional numeric datasets.
extension HDF5Group {
    /// The dimensions of the dataset at `path`; `[]` for a scalar dataset.
    public func shape(of path: String) throws(HDF5Error) -> [Int] {
        try withDataset(path) { (dataset, call) throws(HDF5Error) -> [Int] in try datasetShape(dataset, call) }
    }

    /// The element type of the dataset at `path` as stored in the file.
    public func elementType(of path: String) throws(HDF5Error) -> HDF5ElementType {
        try withDataset(path) { (dataset, call) throws(HDF5Error) -> HDF5ElementType in
            let type = try call.id(H5Dget_type(dataset), "cannot read datatype")
            defer { H5Tclose(type) }
            return HDF5ElementType(typeID: type)
        }
    }

    /// Reads the whole dataset at `path`, converting its numbers to `T`
    /// (a float64 dataset reads as `Float`, int64 as `Int32`, ...).
    public func read<T: HDF5Scalar>(_ type: T.Type, _ path: String) throws(HDF5Error) -> HDF5Array<T> {
        try withDataset(path) { (dataset, call) throws(HDF5Error) -> HDF5Array<T> in
            try requireNumeric(dataset, call, reading: T.self)
            let shape = try datasetShape(dataset, call)
            let count = shape.reduce(1, *)
            try checkReadSize(count, of: T.self, call)
            var status: herr_t = 0
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 {
                    status = H5Dread(dataset, T.hdf5MemoryType, loom_h5s_all(), loom_h5s_all(),
                                     HDF5Library.defaultPlist, buffer.baseAddress)
                }
                // On failure the bytes are garbage but trivially destructible numbers.
                initialized = count
            }
            try call.check(status, "cannot read dataset as \(T.self)")
            return HDF5Array(shape: shape, values: values)
        }
    }

    /// Reads rows `rows` of the dataset at `path` (a hyperslab over its first dimension),
    /// shape `(rows.count, d1, d2, ...)`. Rows outside the dataset are an error.
    public func readRows<T: HDF5Scalar>(_ type: T.Type, _ path: String,
                                        rows: Range<Int>) throws(HDF5Error) -> HDF5Array<T> {
        let shape = try shape(of: path)
        guard !shape.isEmpty else { throw call(path).error("cannot read rows of a scalar dataset") }
        let (count, overflow) = rows.count.multipliedReportingOverflow(by: shape.dropFirst().reduce(1, *))
        if overflow { throw call(path).error("rows \(rows) of shape \(shape) hold more than 2^63 elements") }
        try checkReadSize(count, of: T.self, call(path))
        var status: HDF5Error?
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(HDF5Error) {
                try readRows(T.self, path, rows: rows, into: buffer)
            } catch {
                status = error
            }
            initialized = count
        }
        if let status { throw status }
        return HDF5Array(shape: [rows.count] + shape.dropFirst(), values: values)
    }

    /// Reads rows `rows` of the dataset at `path` into `buffer` without allocating;
    /// `buffer.count` must be `rows.count * (d1 * d2 * ...)`.
    public func readRows<T: HDF5Scalar>(_ type: T.Type, _ path: String, rows: Range<Int>,
                                        into buffer: UnsafeMutableBufferPointer<T>) throws(HDF5Error) {
        try withDataset(path) { (dataset, call) throws(HDF5Error) in
            try requireNumeric(dataset, call, reading: T.self)
            let shape = try datasetShape(dataset, call)
            guard let rowCount = shape.first else { throw call.error("cannot read rows of a scalar dataset") }
            guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
                throw call.error("rows \(rows.lowerBound)..<\(rows.upperBound) out of range 0..<\(rowCount)")
            }
            let rowSize = shape.dropFirst().reduce(1, *)
            guard buffer.count == rows.count * rowSize else {
                throw call.error("buffer holds \(buffer.count) elements, rows \(rows) need \(rows.count * rowSize)")
            }
            guard rows.count > 0, rowSize > 0 else { return }
            let fileSpace = try call.id(H5Dget_space(dataset), "cannot read dataspace")
            defer { H5Sclose(fileSpace) }
            var start = [hsize_t](repeating: 0, count: shape.count)
            start[0] = hsize_t(rows.lowerBound)
            var counts = shape.map { hsize_t($0) }
            counts[0] = hsize_t(rows.count)
            try call.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, counts, nil),
                           "cannot select rows \(rows)")
            let memorySpace = try call.id(H5Screate_simple(Int32(counts.count), counts, nil),
                                          "cannot create memory dataspace")
            defer { H5Sclose(memorySpace) }
            try call.check(H5Dread(dataset, T.hdf5MemoryType, memorySpace, fileSpace, HDF5Library.defaultPlist,
                                   buffer.baseAddress), "cannot read rows \(rows) as \(T.self)")
        }
    }

    /// Writes `values` (row-major, `shape`) as a dataset at `path`, creating missing
    /// groups and replacing an existing dataset. `shape: []` writes a scalar dataset.
    ///
    /// - Parameters:
    ///   - chunkRows: store in chunks of this many rows (first dimension).
    ///   - compressionLevel: gzip level 0...9 (with byte shuffling); implies chunking,
    ///     about 1 MiB per chunk unless `chunkRows` is given. Scalar and empty
    ///     datasets are always stored contiguous and uncompressed.
    ///   - checksum: store a Fletcher-32 checksum with every chunk (implies chunking), so
    ///     that a chunk changed on disk fails to read (`HDF5Error.Kind.checksumMismatch`)
    ///     instead of returning wrong numbers. Scalar and empty datasets have no chunk.
    ///   - slabRows: with `goOn`, write this many rows at a time, and before each slab ask
    ///     `goOn(rows written so far)`; false leaves the dataset partly written and returns
    ///     false (a caller that stops discards the file). The bytes stored do not depend on it.
    /// - Returns: true when every value was written.
    @discardableResult
    public func write<T: HDF5Scalar>(_ values: [T], shape: [Int], to path: String, chunkRows: Int? = nil,
                                     compressionLevel: Int? = nil, checksum: Bool = false, slabRows: Int? = nil,
                                     goOn: ((Int) -> Bool)? = nil) throws(HDF5Error) -> Bool {
        let target = absolute(path)
        let call = call(path)
        guard shape.allSatisfy({ $0 >= 0 }) else { throw call.error("negative dimension in shape \(shape)") }
        guard shape.reduce(1, *) == values.count else {
            throw call.error("\(values.count) values do not fill shape \(shape) (\(shape.reduce(1, *)) elements)")
        }
        if let chunkRows, chunkRows <= 0 { throw call.error("chunkRows must be positive, got \(chunkRows)") }
        if let level = compressionLevel, !(0...9).contains(level) {
            throw call.error("compression level must be 0...9, got \(level)")
        }
        return try HDF5Library.serialized { () throws(HDF5Error) -> Bool in
            let fid = try file.handle(for: target)
            try removeExistingDataset(target, call)
            let space = shape.isEmpty
                ? try call.id(H5Screate(H5S_SCALAR), "cannot create dataspace")
                : try call.id(H5Screate_simple(Int32(shape.count), shape.map { hsize_t($0) }, nil),
                              "cannot create dataspace \(shape)")
            defer { H5Sclose(space) }
            let dcpl = try call.id(H5Pcreate(loom_h5p_dataset_create()), "cannot create dataset property list")
            defer { H5Pclose(dcpl) }
            if !values.isEmpty, !shape.isEmpty, chunkRows != nil || compressionLevel != nil || checksum {
                let rowBytes = shape.dropFirst().reduce(1, *) * MemoryLayout<T>.stride
                let rows = min(shape[0], chunkRows ?? max(1, (1 << 20) / max(rowBytes, 1)))
                let chunk = [hsize_t(rows)] + shape.dropFirst().map { hsize_t($0) }
                try call.check(H5Pset_chunk(dcpl, Int32(chunk.count), chunk), "cannot set chunk \(chunk)")
                if let level = compressionLevel {
                    try call.check(H5Pset_shuffle(dcpl), "cannot enable shuffle filter")
                    try call.check(H5Pset_deflate(dcpl, UInt32(level)), "cannot enable gzip compression")
                }
                // Last in the pipeline: it sums the bytes as stored, and is checked first on read.
                if checksum { try call.check(H5Pset_fletcher32(dcpl), "cannot enable Fletcher-32 checksums") }
            }
            let lcpl = try intermediateGroupsLinkList(call)
            defer { H5Pclose(lcpl) }
            let dataset = try call.id(H5Dcreate2(fid, target, T.hdf5MemoryType, space, lcpl, dcpl,
                                                 HDF5Library.defaultPlist), "cannot create dataset")
            defer { H5Dclose(dataset) }
            guard !values.isEmpty else { return true }
            if let goOn, let slabRows, slabRows > 0, shape.count >= 1 {
                let rowSize = shape.dropFirst().reduce(1, *)
                var first = 0
                while first < shape[0] {
                    guard goOn(first) else { return false }
                    let n = min(slabRows, shape[0] - first)
                    var start = [hsize_t](repeating: 0, count: shape.count)
                    start[0] = hsize_t(first)
                    var counts = shape.map { hsize_t($0) }
                    counts[0] = hsize_t(n)
                    let fileSpace = try call.id(H5Dget_space(dataset), "cannot read dataspace")
                    defer { H5Sclose(fileSpace) }
                    try call.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, counts, nil),
                                   "cannot select rows \(first)..<\(first + n)")
                    let memorySpace = try call.id(H5Screate_simple(Int32(counts.count), counts, nil),
                                                  "cannot create memory dataspace")
                    defer { H5Sclose(memorySpace) }
                    let status = values.withUnsafeBufferPointer {
                        H5Dwrite(dataset, T.hdf5MemoryType, memorySpace, fileSpace, HDF5Library.defaultPlist,
                                 $0.baseAddress! + first * rowSize)
                    }
                    try call.check(status, "cannot write rows \(first)..<\(first + n)")
                    first += n
                }
                return true
            }
            let status = values.withUnsafeBufferPointer {
                H5Dwrite(dataset, T.hdf5MemoryType, loom_h5s_all(), loom_h5s_all(), HDF5Library.defaultPlist,
                         $0.baseAddress)
            }
            try call.check(status, "cannot write dataset")
            return true
        }
    }

    /// Writes one value as a scalar dataset at `path` (shape `[]`).
    public func writeScalar<T: HDF5Scalar>(_ value: T, to path: String) throws(HDF5Error) {
        try write([value], shape: [], to: path)
    }

    // MARK: Internals

    /// Opens the dataset at `path`, runs `body` under the library lock, closes it.
    func withDataset<R>(_ path: String,
                        _ body: (hid_t, HDF5Call) throws(HDF5Error) -> R) throws(HDF5Error) -> R {
        let target = absolute(path)
        let call = call(path)
        return try HDF5Library.serialized { () throws(HDF5Error) -> R in
            let fid = try file.handle(for: target)
            switch objectKind(target) {
            case H5I_DATASET: break
            case nil: throw call.error("no such dataset")
            default: throw call.error("is not a dataset")
            }
            let dataset = try call.id(H5Dopen2(fid, target, HDF5Library.defaultPlist), "cannot open dataset")
            defer { H5Dclose(dataset) }
            return try body(dataset, call)
        }
    }

    func datasetShape(_ dataset: hid_t, _ call: HDF5Call) throws(HDF5Error) -> [Int] {
        let space = try call.id(H5Dget_space(dataset), "cannot read dataspace")
        defer { H5Sclose(space) }
        return try dataspaceShape(space, call)
    }

    func requireNumeric<T>(_ dataset: hid_t, _ call: HDF5Call, reading: T.Type) throws(HDF5Error) {
        let type = try call.id(H5Dget_type(dataset), "cannot read datatype")
        defer { H5Tclose(type) }
        let stored = HDF5ElementType(typeID: type)
        guard stored.isNumeric else { throw call.error("holds \(stored) elements, cannot read as \(T.self)") }
    }

    /// Unlinks a dataset about to be replaced; refuses to replace a group.
    func removeExistingDataset(_ target: String, _ call: HDF5Call) throws(HDF5Error) {
        guard let kind = objectKind(target) else {
            if linkExists(target) { // dangling soft link or unresolvable object
                try call.check(H5Ldelete(try file.handle(for: target), target, HDF5Library.defaultPlist),
                               "cannot replace existing link")
            }
            return
        }
        guard kind == H5I_DATASET else { throw call.error("cannot write dataset: a group exists there") }
        try call.check(H5Ldelete(try file.handle(for: target), target, HDF5Library.defaultPlist),
                       "cannot replace existing dataset")
    }
}

/// Dimensions of a dataspace: `[]` for scalar and null dataspaces.
func dataspaceShape(_ space: hid_t, _ call: HDF5Call) throws(HDF5Error) -> [Int] {
    let rank = H5Sget_simple_extent_ndims(space)
    guard rank >= 0 else { throw HDF5Error.fromLibrary(file: call.file, object: call.object, "cannot read rank") }
    guard rank > 0 else { return [] }
    var dims = [hsize_t](repeating: 0, count: Int(rank))
    try call.check(H5Sget_simple_extent_dims(space, &dims, nil), "cannot read dimensions")
    // A file may declare any dimensions (a chunked dataset need not store its elements):
    // the shape's product must fit in Int before anyone multiplies or allocates with it.
    var product = 1
    for dim in dims {
        let (next, overflow) = product.multipliedReportingOverflow(by: Int(clamping: dim))
        guard dim <= hsize_t(Int.max), !overflow else {
            throw call.error("dimensions \(dims) hold more than 2^63 elements")
        }
        product = next
    }
    return dims.map { Int($0) }
}

/// The most bytes one read allocates (16 GiB): a whole dataset or attribute, or the rows
/// asked for. Files declare their own sizes; a larger one is an error naming the object,
/// not an abort in the allocation.
public let hdf5ReadLimitBytes = 1 << 34

/// Throws unless `count` elements of `T` fit `hdf5ReadLimitBytes`.
func checkReadSize<T>(_ count: Int, of: T.Type, _ call: HDF5Call) throws(HDF5Error) {
    let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
    guard count >= 0, !overflow, bytes <= hdf5ReadLimitBytes else {
        throw call.error("\(count) elements of \(T.self) are more than the \(hdf5ReadLimitBytes) bytes one read may take")
    }
}
