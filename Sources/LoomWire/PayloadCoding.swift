// Packing of numeric arrays into payload frames and back.
//
// Payload frames are raw little-endian arrays with no length prefix: the element count is
// the frame size divided by the element size, so there is no length field to distrust.

import Foundation
import LoomKernels

#if _endian(big)
#error("LoomWire copies arrays straight into little-endian frames; big-endian hosts are not supported")
#endif

/// The raw little-endian bytes of `values`, e.g. float32 [P] → 4·P bytes.
func packFrame<T: BitwiseCopyable>(_ values: [T]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}

/// The frame of a float32 array: raw little-endian float32, or bfloat16 (`BFloat16Codec`).
func floatsFrame(_ values: [Float], bf16: Bool) -> [UInt8] {
    bf16 ? BFloat16Codec.narrow(values) : packFrame(values)
}

/// `floatsFrame` of values that may be a received frame's bytes: those go out as they are.
func floatsFrame(_ values: FloatValues, bf16: Bool) -> [UInt8] {
    bf16 ? values.withUnsafeBufferPointer { BFloat16Codec.narrow($0) } : values.littleEndianBytes
}

/// The elements of a frame whose size the caller has checked is a multiple of
/// `MemoryLayout<T>.stride`. Copies with memcpy: frames carry no alignment guarantee.
func unpackFrame<T: BitwiseCopyable>(_ frame: [UInt8], as _: T.Type) -> [T] {
    let count = frame.count / MemoryLayout<T>.stride
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        frame.withUnsafeBytes { raw in
            if count > 0 { memcpy(buffer.baseAddress!, raw.baseAddress!, count * MemoryLayout<T>.stride) }
        }
        initialized = count
    }
}

/// Reads and validates the payload frames of one message, naming the frame in errors.
struct PayloadReader {
    let header: WireHeader
    let frames: [[UInt8]]   // payload frames only, frame 0 = first after the header

    private var type: MessageType { header.type }

    func name(_ index: Int) -> String { "\(index + 1) (\(type.payloadFrameNames[index]))" }

    /// R11: frame `index`'s size is a multiple of `stride`, the size of one `elementName`.
    func checkElements(_ index: Int, stride: Int, elementName: String) throws(WireError) {
        guard frames[index].count % stride == 0 else {
            throw .frameSize(type: type, frame: name(index), bytes: frames[index].count,
                             rule: "not a multiple of \(stride) bytes (\(elementName))")
        }
    }

    /// Frame `index` as an array of `T`; R11: its size is a multiple of the element size.
    func array<T: BitwiseCopyable>(_ index: Int, of _: T.Type, elementName: String) throws(WireError) -> [T] {
        try checkElements(index, stride: MemoryLayout<T>.stride, elementName: elementName)
        return unpackFrame(frames[index], as: T.self)
    }

    /// `finiteFloats` read in place: float32 values stay in the frame's bytes (no copy);
    /// bfloat16 ones are widened into a new array.
    func finiteFloatValues(_ index: Int, bf16: Bool = false) throws(WireError) -> FloatValues {
        if bf16 { return FloatValues(try finiteFloats(index, bf16: true)) }
        try checkElements(index, stride: MemoryLayout<Float>.stride, elementName: "float32")
        let values = FloatValues(littleEndianBytes: frames[index])
        if let bad = values.withUnsafeBufferPointer({ firstNonFinite($0) }) { throw nonFinite(index, bad) }
        return values
    }

    /// Frame `index` as float32 values, all finite (R11, R12); with `bf16`, the frame holds
    /// bfloat16 values (2 bytes each), widened exactly.
    func finiteFloats(_ index: Int, bf16: Bool = false) throws(WireError) -> [Float] {
        let values: [Float]
        if bf16 {
            guard frames[index].count % 2 == 0 else {
                throw .frameSize(type: type, frame: name(index), bytes: frames[index].count,
                                 rule: "not a multiple of 2 bytes (bfloat16)")
            }
            values = BFloat16Codec.widen(frames[index])
        } else {
            values = try array(index, of: Float.self, elementName: "float32")
        }
        if let bad = firstNonFinite(values) { throw nonFinite(index, bad) }
        return values
    }

    /// Frame `index` as dataset sample indices: u64 values below 2^63, so that every one is
    /// an `Int` (R11).
    func sampleIndices(_ index: Int) throws(WireError) -> [Int] {
        let raw = try array(index, of: UInt64.self, elementName: "u64")
        if let bad = raw.firstIndex(where: { $0 > UInt64(Int.max) }) {
            throw .frameSize(type: type, frame: name(index), bytes: frames[index].count,
                             rule: "sample index \(raw[bad]) at position \(bad) is not below 2^63")
        }
        return raw.map { Int($0) }
    }

    /// Frame `index` as float64 values, all finite (R11, R12).
    func finiteDoubles(_ index: Int) throws(WireError) -> [Double] {
        let values = try array(index, of: Double.self, elementName: "float64")
        if let bad = values.firstIndex(where: { !$0.isFinite }) { throw nonFinite(index, bad) }
        return values
    }

    private func nonFinite(_ frame: Int, _ element: Int) -> WireError {
        .nonFinite(type: type, frame: name(frame), index: element, step: header.step,
                   firstShard: header.firstShard, shardCount: header.shardCount)
    }

    /// Frame `index` as a reference to a slot of the sender's shared region (R14).
    func sharedSlot(_ index: Int) throws(WireError) -> SharedSlot {
        var why = ""
        guard let slot = SharedSlot.parse(frames[index], why: &why) else {
            throw .sharedSlot(type: type, frame: name(index), rule: why)
        }
        return slot
    }

    /// Frame `index` decoded as a JSON object into `T` (R13). `Decodable` reports a missing
    /// or mistyped field by its key, which becomes the error's rule.
    func json<T: Decodable>(_ index: Int, as _: T.Type) throws(WireError) -> T {
        let frame = frames[index]
        guard frame.count <= WireHeader.maxJSONBytes else {
            throw .frameSize(type: type, frame: name(index), bytes: frame.count,
                             rule: "JSON body larger than \(WireHeader.maxJSONBytes) bytes")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(frame))
        } catch let DecodingError.keyNotFound(key, _) {
            throw .json(type: type, rule: "missing required field \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(expected, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .json(type: type, rule: path.isEmpty ? "body is not a JSON object"
                        : "field \"\(path)\" is not of type \(expected)")
        } catch let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .json(type: type, rule: "field \"\(path)\" is null")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .json(type: type, rule: "field \"\(path)\" has a value out of range for its type")
        } catch {
            throw .json(type: type, rule: "not well-formed UTF-8 JSON")
        }
    }
}

/// Encodes a JSON body with sorted keys, so that equal messages give equal bytes.
func jsonFrame<T: Encodable>(_ value: T) -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // Encoding plain structs of strings, integers and booleans cannot fail.
    return (try? Array(encoder.encode(value))) ?? Array("{}".utf8)
}
