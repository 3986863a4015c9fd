import CHDF5Shim

/// A Swift number type that maps onto an HDF5 native type.
///
/// Reads convert from whatever numeric type the file holds (HDF5 converts, clipping out
/// of range values); writes store the native type itself (`Float` as float32 little
/// endian on x86-64, `Int` as int64).
public protocol HDF5Scalar {
    /// The HDF5 native memory type id (an `hid_t`) for this Swift type.
    static var hdf5MemoryType: Int64 { get }
}

extension Float: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_float() } }
extension Double: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_double() } }
extension Int8: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_int8() } }
extension Int16: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_int16() } }
extension Int32: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_int32() } }
extension Int64: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_int64() } }
extension UInt8: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_uint8() } }
extension UInt16: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_uint16() } }
extension UInt32: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_uint32() } }
extension UInt64: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_uint64() } }
/// `Int` is 64 bits on every platform Loom supports; stored as int64.
extension Int: HDF5Scalar { public static var hdf5MemoryType: Int64 { loom_h5t_native_int64() } }
