// A PyTorch state_dict saved in HDF5 by name, as h5py writes it
// (`for k, v in sd.items(): f[k] = v.numpy()`): one dataset per tensor, named by its
// state_dict key. h5py keeps the dots of `layer1.0.conv1.weight` in one dataset name; a
// file whose writer split the key into groups (`layer1/0/conv1/weight`) reads the same,
// the group names joined by dots. Float datasets (32 and 64 bit) are read as Float; integer
// ones (`num_batches_tracked`) and anything else are skipped and listed, as in safetensors.
import Foundation
import LoomHDF5

public enum HDF5StateDictError: Error, Equatable, CustomStringConvertible {
    /// The file cannot be opened or read as HDF5 (its cause, from the library).
    case unreadable(path: String, detail: String)
    /// A dataset that cannot be read (its name in the file, the cause).
    case badTensor(path: String, tensor: String, detail: String)
    /// Nothing in the file is a tensor.
    case empty(path: String)

    public var description: String {
        switch self {
        case let .unreadable(p, d): return "\(p): cannot read the HDF5 state_dict (\(d))"
        case let .badTensor(p, t, d): return "\(p): tensor '\(t)': \(d)"
        case let .empty(p): return "\(p): the HDF5 file holds no dataset: not a state_dict saved by name"
        }
    }
}

public enum HDF5StateDict {
    /// HDF5's format signature, the first 8 bytes of a file without a user block.
    public static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// True when the file at `path` starts with HDF5's signature.
    public static func isHDF5(_ path: String) -> Bool {
        guard DurableFile.isRegularFile(path), let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 8)) ?? Data()
        return [UInt8](head) == signature
    }

    /// The float tensors of the state_dict in `path`, by name (sorted), and the skipped ones.
    public static func read(_ path: String) throws(HDF5StateDictError) -> SafeTensorsFile {
        let file: HDF5File
        do { file = try HDF5File.open(path, mode: .readOnly) } catch {
            throw .unreadable(path: path, detail: error.description)
        }
        defer { file.close() }
        var result = SafeTensorsFile(tensors: [], skipped: [])
        try collect(file.root, prefix: "", path: path, into: &result)
        guard !result.tensors.isEmpty || !result.skipped.isEmpty else { throw .empty(path: path) }
        return result
    }

    /// Walks `group` depth first; `prefix` is the state_dict name of the group ("" or "layer1.0.").
    private static func collect(_ group: HDF5Group, prefix: String, path: String,
                                into result: inout SafeTensorsFile) throws(HDF5StateDictError) {
        let children: [String]
        do { children = try group.children() } catch { throw .unreadable(path: path, detail: error.description) }
        for child in children {
            let name = prefix + child
            if group.isGroup(child) {
                try collect(try subgroup(group, child, path: path), prefix: name + ".", path: path, into: &result)
                continue
            }
            guard group.isDataset(child) else { continue }  // a dangling or external link
            do {
                let type = try group.elementType(of: child)
                switch type {
                case .float32, .float64:
                    let array = try group.read(Float.self, child)
                    result.tensors.append(NamedTensor(name: name, shape: array.shape, values: array.values))
                case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64:
                    result.skipped.append("\(name) (\(type))")
                case .string, .other:
                    result.skipped.append("\(name) (not a float32 or float64 dataset)")
                }
            } catch {
                throw .badTensor(path: path, tensor: name, detail: error.description)
            }
        }
    }

    private static func subgroup(_ group: HDF5Group, _ child: String, path: String) throws(HDF5StateDictError) -> HDF5Group {
        do { return try group.group(child) } catch { throw .unreadable(path: path, detail: error.description) }
    }
}
