import CHDF5
import CHDF5Shim
#if canImport(Glibc)
import Glibc
#endif

/// How a dataset is laid out on disk: its filters and, when chunked, where each chunk lies.
/// Used to tell checksummed datasets from older ones (`loom inspect`) and by tests that
/// corrupt one chunk of a real file.
public struct HDF5Storage: Sendable, Equatable {
    /// The filter pipeline in write order, by name: `shuffle`, `deflate`, `fletcher32`...
    public var filters: [String]
    /// Rows per chunk (first dimension), nil for a contiguous dataset.
    public var chunkRows: Int?

    /// True when every chunk carries a Fletcher-32 checksum, verified on each read.
    public var isChecksummed: Bool { filters.contains("fletcher32") }
}

/// One stored chunk: its byte range in the file (after filters: compressed, with checksum).
public struct HDF5Chunk: Sendable, Equatable {
    /// Offset of the chunk's first byte from the start of the file.
    public var fileOffset: Int
    /// Bytes stored.
    public var size: Int
}

extension HDF5Group {
    /// The filters and chunking of the dataset at `path`.
    public func storage(of path: String) throws(HDF5Error) -> HDF5Storage {
        try withDataset(path) { (dataset, call) throws(HDF5Error) -> HDF5Storage in
            let dcpl = try call.id(H5Dget_create_plist(dataset), "cannot read creation properties")
            defer { H5Pclose(dcpl) }
            var chunkRows: Int?
            if H5Pget_layout(dcpl) == H5D_CHUNKED {
                var dims = [hsize_t](repeating: 0, count: 32)
                let rank = H5Pget_chunk(dcpl, Int32(dims.count), &dims)
                if rank > 0 { chunkRows = Int(dims[0]) }
            }
            var filters: [String] = []
            let count = H5Pget_nfilters(dcpl)
            for index in 0..<max(count, 0) {
                var flags: UInt32 = 0
                var elements = 0
                var values = [UInt32](repeating: 0, count: 8)
                var name = [CChar](repeating: 0, count: 64)
                var config: UInt32 = 0
                let id = H5Pget_filter2(dcpl, UInt32(index), &flags, &elements, &values, name.count, &name, &config)
                switch id {
                case H5Z_FILTER_DEFLATE: filters.append("deflate")
                case H5Z_FILTER_SHUFFLE: filters.append("shuffle")
                case H5Z_FILTER_FLETCHER32: filters.append("fletcher32")
                case H5Z_FILTER_SZIP: filters.append("szip")
                case H5Z_FILTER_NBIT: filters.append("nbit")
                case H5Z_FILTER_SCALEOFFSET: filters.append("scaleoffset")
                default: filters.append("filter \(id)")
                }
            }
            return HDF5Storage(filters: filters, chunkRows: chunkRows)
        }
    }

    /// The chunks of the dataset at `path` as stored, in HDF5's index order; `[]` for a
    /// contiguous dataset.
    public func chunks(of path: String) throws(HDF5Error) -> [HDF5Chunk] {
        try withDataset(path) { (dataset, call) throws(HDF5Error) -> [HDF5Chunk] in
            let dcpl = try call.id(H5Dget_create_plist(dataset), "cannot read creation properties")
            let chunked = H5Pget_layout(dcpl) == H5D_CHUNKED
            H5Pclose(dcpl)
            guard chunked else { return [] }
            let space = try call.id(H5Dget_space(dataset), "cannot read dataspace")
            defer { H5Sclose(space) }
            var count: hsize_t = 0
            try call.check(H5Dget_num_chunks(dataset, space, &count), "cannot count chunks")
            var result: [HDF5Chunk] = []
            var origin = [hsize_t](repeating: 0, count: 32)
            for index in 0..<count {
                var mask: UInt32 = 0
                var address: haddr_t = 0
                var size: hsize_t = 0
                try call.check(H5Dget_chunk_info(dataset, space, index, &origin, &mask, &address, &size),
                               "cannot read chunk \(index)")
                result.append(HDF5Chunk(fileOffset: Int(address), size: Int(size)))
            }
            return result
        }
    }
}

/// Who a file is on disk: `stat` of the open descriptor, so the file that was read and the
/// one described are the same even if another file has since been renamed over its path.
public struct HDF5FileStatus: Sendable, Equatable, Hashable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    /// Last modification and last status change (`st_mtim`, `st_ctim`), in nanoseconds
    /// since the epoch. A write changes both; only the change time cannot be set back by
    /// a user (`touch -d` sets the modification time and moves the change time on).
    public var modifiedNanoseconds: Int64
    public var changedNanoseconds: Int64

    public init(device: UInt64, inode: UInt64, size: Int64, modifiedNanoseconds: Int64, changedNanoseconds: Int64) {
        self.device = device; self.inode = inode; self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds; self.changedNanoseconds = changedNanoseconds
    }
}

extension HDF5File {
    /// `fstat` of the descriptor libhdf5 reads this file through.
    public func status() throws(HDF5Error) -> HDF5FileStatus {
        let call = HDF5Call(file: path, object: "/")
        return try HDF5Library.serialized { () throws(HDF5Error) -> HDF5FileStatus in
            let fd = loom_h5_file_descriptor(try handle(for: "/"))
            guard fd >= 0 else { throw call.error("cannot find the file's descriptor (not the default file driver)") }
            var s = stat()
            guard fstat(fd, &s) == 0 else { throw call.error("fstat failed: \(String(cString: strerror(errno)))") }
            func ns(_ t: timespec) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec) }
            return HDF5FileStatus(device: UInt64(s.st_dev), inode: UInt64(s.st_ino), size: Int64(s.st_size),
                                  modifiedNanoseconds: ns(s.st_mtim), changedNanoseconds: ns(s.st_ctim))
        }
    }
}
