import CHDF5
import CHDF5Shim

/// Growable 1-D datasets (chunked, unlimited maximum length) for metric histories:
/// one value appended per step or epoch, readable at any time with `read`.
extension HDF5Group {
    /// Creates an empty series of `T` at `path` (creating missing groups), stored in
    /// chunks of `chunk` elements. If a growable 1-D dataset already exists there it is
    /// left as it is, so a resumed run keeps appending to its history.
    public func createSeries<T: HDF5Scalar>(_ type: T.Type, _ path: String, chunk: Int = 256) throws(HDF5Error) {
        let target = absolute(path)
        let call = call(path)
        guard chunk > 0 else { throw call.error("series chunk must be positive, got \(chunk)") }
        try HDF5Library.serialized { () throws(HDF5Error) in
            let fid = try file.handle(for: target)
            switch objectKind(target) {
            case nil: break
            case H5I_DATASET:
                _ = try seriesLength(target, call)  // throws unless it is a series
                return
            default: throw call.error("cannot create series: a group exists there")
            }
            let space = try call.id(H5Screate_simple(1, [0], [loom_h5s_unlimited()]), "cannot create dataspace")
            defer { H5Sclose(space) }
            let dcpl = try call.id(H5Pcreate(loom_h5p_dataset_create()), "cannot create dataset property list")
            defer { H5Pclose(dcpl) }
            try call.check(H5Pset_chunk(dcpl, 1, [hsize_t(chunk)]), "cannot set chunk \(chunk)")
            let lcpl = try intermediateGroupsLinkList(call)
            defer { H5Pclose(lcpl) }
            let dataset = try call.id(H5Dcreate2(fid, target, T.hdf5MemoryType, space, lcpl, dcpl,
                                                 HDF5Library.defaultPlist), "cannot create series")
            H5Dclose(dataset)
        }
    }

    /// Appends `values` to the end of the series at `path` (created by `createSeries`);
    /// values are converted to the series' stored type.
    public func append<T: HDF5Scalar>(_ values: [T], toSeries path: String) throws(HDF5Error) {
        guard !values.isEmpty else { return }
        let target = absolute(path)
        try withDataset(path) { (dataset, call) throws(HDF5Error) in
            let old = try seriesLength(target, call)
            let new = hsize_t(old + values.count)
            try call.check(H5Dset_extent(dataset, [new]), "cannot extend series to \(new)")
            let fileSpace = try call.id(H5Dget_space(dataset), "cannot read dataspace")
            defer { H5Sclose(fileSpace) }
            try call.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, [hsize_t(old)], nil,
                                               [hsize_t(values.count)], nil), "cannot select appended range")
            let memorySpace = try call.id(H5Screate_simple(1, [hsize_t(values.count)], nil),
                                          "cannot create memory dataspace")
            defer { H5Sclose(memorySpace) }
            let status = values.withUnsafeBufferPointer {
                H5Dwrite(dataset, T.hdf5MemoryType, memorySpace, fileSpace, HDF5Library.defaultPlist, $0.baseAddress)
            }
            try call.check(status, "cannot append \(values.count) values")
        }
    }

    /// Current length of the series at absolute `target`; throws if it is not a
    /// growable 1-D dataset.
    private func seriesLength(_ target: String, _ call: HDF5Call) throws(HDF5Error) -> Int {
        let dataset = try call.id(H5Dopen2(try file.handle(for: target), target, HDF5Library.defaultPlist),
                                  "cannot open series")
        defer { H5Dclose(dataset) }
        let space = try call.id(H5Dget_space(dataset), "cannot read dataspace")
        defer { H5Sclose(space) }
        guard H5Sget_simple_extent_ndims(space) == 1 else { throw call.error("is not a 1-D series") }
        var current: hsize_t = 0
        var maximum: hsize_t = 0
        try call.check(H5Sget_simple_extent_dims(space, &current, &maximum), "cannot read dimensions")
        guard maximum == loom_h5s_unlimited() else { throw call.error("is a fixed-size dataset, not a growable series") }
        return Int(current)
    }
}
