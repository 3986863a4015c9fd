// Reads a safetensors file (the common format of PyTorch state_dicts): an 8-byte little-endian
// header length N, N bytes of JSON {"<name>": {"dtype": "F32", "shape": [...],
// "data_offsets": [begin, end]}, "__metadata__": {...}}, then the tensors' little-endian bytes,
// offsets counted from the end of the header. F32, F64, F16 and BF16 become Float; integer
// tensors (e.g. num_batches_tracked) are skipped and listed.
import Foundation

/// What is wrong with a safetensors file.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, detail: String)
    case truncated(path: String, detail: String)
    case badHeader(path: String, detail: String)
    case badTensor(path: String, tensor: String, detail: String)

    public var description: String {
        switch self {
        case let .unreadable(p, d): return "\(p): cannot read the file (\(d))"
        case let .truncated(p, d): return "\(p): truncated safetensors file (\(d))"
        case let .badHeader(p, d): return "\(p): not a safetensors file: \(d)"
        case let .badTensor(p, t, d): return "\(p): tensor '\(t)': \(d)"
        }
    }
}

/// The floating-point tensors of a safetensors file, in file order, and the names of
/// the non-float tensors it skipped.
public struct SafeTensorsFile: Sendable {
    public var tensors: [NamedTensor]
    public var skipped: [String]

    public static func read(_ path: String) throws(SafeTensorsError) -> SafeTensorsFile {
        // A FIFO would block the read until something writes to it.
        guard DurableFile.isRegularFile(path) || !DurableFile.exists(path) else {
            throw .unreadable(path: path, detail: "not a regular file (a FIFO, device or directory)")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, detail: error.localizedDescription)
        }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String) throws(SafeTensorsError) -> SafeTensorsFile {
        let bytes = [UInt8](data)
        // A safetensors header is a JSON object: byte 8 is its '{'. Without it, say what the file is
        // when its first bytes tell (a pickle's 80 02 could begin a header length too).
        if !(bytes.count > 8 && bytes[8] == UInt8(ascii: "{")), let other = otherFormat(bytes) {
            throw .badHeader(path: path, detail: other)
        }
        guard bytes.count >= 8 else { throw .truncated(path: path, detail: "\(bytes.count) bytes, no header length") }
        let headerLength = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            guard bytes.count == 8 || bytes[8] == UInt8(ascii: "{") else {
                throw .badHeader(path: path, detail: "its first 8 bytes give a header length of \(headerLength) bytes but the"
                                 + " file has \(bytes.count), and no JSON header follows (first bytes: \(hex(bytes.prefix(16))))")
            }
            throw .truncated(path: path, detail: "header of \(headerLength) bytes but the file has \(bytes.count)")
        }
        let dataStart = 8 + Int(headerLength)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])) } catch {
            let text = String(decoding: bytes[8..<min(dataStart, 8 + 40)], as: UTF8.self)
            throw .badHeader(path: path, detail: "the header (\(headerLength) bytes from byte 8) is not JSON: it starts"
                             + " \(String(reflecting: text))\(headerLength > 40 ? "..." : "")")
        }
        guard let header = json as? [String: Any] else { throw .badHeader(path: path, detail: "the header is not a JSON object") }
        // File order: by data offset (JSON objects have no order).
        var entries: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw .badTensor(path: path, tensor: name, detail: "needs dtype, shape and data_offsets [begin, end]")
            }
            // Every number is the file's: compare without arithmetic that could overflow, and
            // bound the element count by the data there is (at least one byte per element).
            guard let elements = elementCount(shape), elements <= bytes.count, offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw .badTensor(path: path, tensor: name, detail: "shape \(shape) or data_offsets \(offsets) out of range")
            }
            entries.append((name, dtype, shape, offsets[0], offsets[1]))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        // The format's byte buffer is the tensors back to back, as safetensors writes it: two
        // tensors sharing bytes, or bytes no tensor owns between them, are a damaged header (the
        // safetensors library refuses both); then a last tensor past the file's end is a cut file.
        let filled = entries.filter { $0.end > $0.begin }
        // Overlaps first (a duplicated range also leaves a gap: the overlap is the fault), then gaps.
        var reach = (end: 0, name: "")
        for e in filled {
            if e.begin < reach.end {
                throw .badTensor(path: path, tensor: e.name, detail: "data_offsets [\(e.begin), \(e.end)] overlap tensor"
                                 + " '\(reach.name)' (ending at \(reach.end)): a damaged header")
            }
            reach = (e.end, e.name)
        }
        var covered = 0
        var previous = ""
        for e in filled {
            if e.begin > covered {
                throw .badTensor(path: path, tensor: e.name, detail: "data_offsets [\(e.begin), \(e.end)] leave data bytes"
                                 + " \(covered)..<\(e.begin) to no tensor" + (previous.isEmpty ? "" : " (after '\(previous)')")
                                 + ": a damaged header")
            }
            covered = e.end
            previous = e.name
        }
        let dataBytes = bytes.count - dataStart
        if covered > dataBytes {
            throw .truncated(path: path, detail: "tensor '\(previous)' ends at data byte \(covered) but the file holds"
                             + " \(dataBytes) data bytes after its \(headerLength)-byte header (\(covered - dataBytes) bytes missing)")
        }
        var file = SafeTensorsFile(tensors: [], skipped: [])
        for e in entries {
            let count = e.shape.reduce(1, *)
            let width: Int
            switch e.dtype {
            case "F32": width = 4
            case "F64": width = 8
            case "F16", "BF16": width = 2
            case _ where Self.otherDtypes.contains(e.dtype):
                file.skipped.append("\(e.name) (\(e.dtype))")
                continue
            default:
                throw .badTensor(path: path, tensor: e.name, detail: "unknown dtype '\(e.dtype)' (safetensors has F64, F32,"
                                 + " F16, BF16, and integer, boolean and 8-bit float types)")
            }
            guard e.end - e.begin == count * width else {
                throw .badTensor(path: path, tensor: e.name, detail: "\(e.dtype) \(e.shape) needs \(count * width) bytes,"
                                 + " data_offsets give \(e.end - e.begin)")
            }
            let base = dataStart + e.begin
            var values = [Float](repeating: 0, count: count)
            for i in 0..<count {
                let at = base + i * width
                switch e.dtype {
                case "F32":
                    values[i] = Float(bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8
                                      | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24)
                case "F64":
                    let bits = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
                    values[i] = Float(Double(bitPattern: bits))
                case "F16":
                    values[i] = Float(Float16(bitPattern: UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8))
                default: // BF16: the high half of a float32
                    values[i] = Float(bitPattern: (UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8) << 16)
                }
            }
            file.tensors.append(NamedTensor(name: e.name, shape: e.shape, values: values))
        }
        return file
    }

    /// What a file that is not safetensors is, when its first bytes tell: `torch.save`'s
    /// formats (a ZIP archive since PyTorch 1.6, a bare pickle before) are the usual mistake.
    static func otherFormat(_ bytes: [UInt8]) -> String? {
        let advice = "save the state_dict with safetensors.torch.save_file, or as HDF5 with one dataset per key"
            + " (docs/FINE_TUNING.md)"
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            return "a ZIP archive (torch.save's format), not safetensors or HDF5: \(advice)"
        }
        if bytes.count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]) {
            return "a Python pickle (torch.save's legacy format), not safetensors or HDF5: \(advice)"
        }
        return nil
    }

    static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
    }

    /// The non-float dtypes of the safetensors format: skipped and listed (`num_batches_tracked`
    /// is I64). Any other dtype is not safetensors: an error, not a silent skip.
    static let otherDtypes: Set<String> = ["BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64",
                                           "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"]

    /// The product of `shape`, nil when a dimension is negative or the product overflows.
    static func elementCount(_ shape: [Int]) -> Int? {
        var product = 1
        for dim in shape {
            guard dim >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            product = next
        }
        return product
    }
}
