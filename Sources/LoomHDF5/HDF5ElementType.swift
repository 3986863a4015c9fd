import CHDF5

/// The element type of a dataset or attribute as stored in the file.
public enum HDF5ElementType: Equatable, Sendable {
    case float32, float64
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case string
    /// Anything else (compound, enum, half float, references...).
    case other

    /// Classifies an HDF5 datatype id (file or memory type).
    init(typeID: hid_t) {
        let size = H5Tget_size(typeID)
        switch H5Tget_class(typeID) {
        case H5T_FLOAT:
            self = size == 4 ? .float32 : size == 8 ? .float64 : .other
        case H5T_INTEGER:
            let signed = H5Tget_sign(typeID) != H5T_SGN_NONE
            switch (size, signed) {
            case (1, true): self = .int8
            case (2, true): self = .int16
            case (4, true): self = .int32
            case (8, true): self = .int64
            case (1, false): self = .uint8
            case (2, false): self = .uint16
            case (4, false): self = .uint32
            case (8, false): self = .uint64
            default: self = .other
            }
        case H5T_STRING:
            self = .string
        default:
            self = .other
        }
    }

    /// True for the integer and floating-point cases, which HDF5 converts between.
    public var isNumeric: Bool {
        switch self {
        case .string, .other: return false
        default: return true
        }
    }
}
