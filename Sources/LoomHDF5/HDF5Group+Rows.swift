import CHDF5
import CHDF5Shim

/// Datasets that grow by whole rows: `(N, d1, d2, ...)` with an unlimited first dimension,
/// chunked by rows. Importers append a batch at a time, so memory stays bounded however
/// many rows the dataset ends with.
extension HDF5Group {
    /// Creates an empty `(0, rowShape...)` dataset of `T` at `path` (creating missing
    /// groups), stored in chunks of `chunkRows` rows, uncompressed; with `checksum`, each
    /// chunk carries a Fletcher-32 checksum that every read verifies.
    public func createRows<T: HDF5Scalar>(_ type: T.Type, _ path: String, rowShape: [Int], chunkRows: Int,
                                          checksum: Bool = false) throws(HDF5Error) {
        let target = absolute(path)
        let call = call(path)
        guard chunkRows > 0, rowShape.allSatisfy({ $0 > 0 }) else {
            throw call.error("row shape \(rowShape) and chunk of \(chunkRows) rows must be positive")
        }
        try HDF5Library.serialized { () throws(HDF5Error) in
            let fid = try file.handle(for: target)
            try removeExistingDataset(target, call)
            let dims = [hsize_t(0)] + rowShape.map { hsize_t($0) }
            let maxDims = [loom_h5s_unlimited()] + rowShape.map { hsize_t($0) }
            let space = try call.id(H5Screate_simple(Int32(dims.count), dims, maxDims), "cannot create dataspace")
            defer { H5Sclose(space) }
            let dcpl = try call.id(H5Pcreate(loom_h5p_dataset_create()), "cannot create dataset property list")
            defer { H5Pclose(dcpl) }
            let chunk = [hsize_t(chunkRows)] + rowShape.map { hsize_t($0) }
            try call.check(H5Pset_chunk(dcpl, Int32(chunk.count), chunk), "cannot set chunk \(chunk)")
            if checksum { try call.check(H5Pset_fletcher32(dcpl), "cannot enable Fletcher-32 checksums") }
            let lcpl = try intermediateGroupsLinkList(call)
            defer { H5Pclose(lcpl) }
            let dataset = try call.id(H5Dcreate2(fid, target, T.hdf5MemoryType, space, lcpl, dcpl,
                                                 HDF5Library.defaultPlist), "cannot create dataset")
            H5Dclose(dataset)
        }
    }

    /// Appends `values` (whole rows, row-major) to the dataset made by `createRows`.
    public func appendRows<T: HDF5Scalar>(_ values: UnsafeBufferPointer<T>, to path: String) throws(HDF5Error) {
        guard values.count > 0 else { return }
        try withDataset(path) { (dataset, call) throws(HDF5Error) in
            let shape = try datasetShape(dataset, call)
            let rowSize = shape.dropFirst().reduce(1, *)
            guard shape.count >= 1, rowSize > 0, values.count % rowSize == 0 else {
                throw call.error("\(values.count) values are not whole rows of \(shape.dropFirst())")
            }
            let old = shape[0], added = values.count / rowSize
            var newDims = shape.map { hsize_t($0) }
            newDims[0] = hsize_t(old + added)
            try call.check(H5Dset_extent(dataset, newDims), "cannot extend to \(old + added) rows")
            let fileSpace = try call.id(H5Dget_space(dataset), "cannot read dataspace")
            defer { H5Sclose(fileSpace) }
            var start = [hsize_t](repeating: 0, count: shape.count)
            start[0] = hsize_t(old)
            var counts = newDims
            counts[0] = hsize_t(added)
            try call.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, counts, nil),
                           "cannot select rows \(old)..<\(old + added)")
            let memorySpace = try call.id(H5Screate_simple(Int32(counts.count), counts, nil), "cannot create memory dataspace")
            defer { H5Sclose(memorySpace) }
            try call.check(H5Dwrite(dataset, T.hdf5MemoryType, memorySpace, fileSpace, HDF5Library.defaultPlist,
                                    values.baseAddress), "cannot write rows \(old)..<\(old + added)")
        }
    }
}
