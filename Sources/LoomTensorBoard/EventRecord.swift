// TensorBoard event files, written directly: TFRecord framing around `Event` protocol
// buffers (tensorflow/core/util/event.proto, summary.proto), encoded by hand.
//
// TFRecord, per record:   uint64 length (little-endian) | uint32 masked CRC-32C of those 8
//                         bytes | data | uint32 masked CRC-32C of data
// Event:    1 wall_time (double, fixed64)  2 step (int64, varint)  3 file_version (string)
//           5 summary (Summary message)
// Summary:  1 value (repeated Summary.Value)
// Value:    1 tag (string)  2 simple_value (float, fixed32)
// The first record of a file is an Event with file_version "brain.Event:2"; TensorBoard
// reads simple_value scalars into its Scalars dashboard.

import Foundation

/// Protocol-buffer wire encoding of the few fields an event needs.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }

    mutating func double(_ field: Int, _ v: Double) {
        key(field, 1)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func float(_ field: Int, _ v: Float) {
        key(field, 5)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func int64(_ field: Int, _ v: Int64) {
        key(field, 0)
        varint(UInt64(bitPattern: v))
    }

    mutating func lengthDelimited(_ field: Int, _ data: [UInt8]) {
        key(field, 2)
        varint(UInt64(data.count))
        bytes += data
    }

    mutating func string(_ field: Int, _ s: String) { lengthDelimited(field, Array(s.utf8)) }
}

/// One event: a step's scalars at a wall time, or the file-version header.
public struct ScalarEvent: Equatable, Sendable {
    public var wallTime: Double
    public var step: Int64
    /// (tag, value) pairs, e.g. ("train_loss", 0.41), ("val_accuracy/category", 0.87).
    public var scalars: [(tag: String, value: Float)]

    public init(wallTime: Double, step: Int64, scalars: [(tag: String, value: Float)]) {
        self.wallTime = wallTime; self.step = step; self.scalars = scalars
    }

    public static func == (a: ScalarEvent, b: ScalarEvent) -> Bool {
        a.wallTime == b.wallTime && a.step == b.step && a.scalars.count == b.scalars.count
            && zip(a.scalars, b.scalars).allSatisfy { $0.tag == $1.tag && $0.value.bitPattern == $1.value.bitPattern }
    }

    /// The Event message.
    var encoded: [UInt8] {
        var summary = ProtoWriter()
        for (tag, value) in scalars {
            var v = ProtoWriter()
            v.string(1, tag)
            v.float(2, value)
            summary.lengthDelimited(1, v.bytes)
        }
        var event = ProtoWriter()
        event.double(1, wallTime)
        event.int64(2, step)
        event.lengthDelimited(5, summary.bytes)
        return event.bytes
    }

    /// The header event every file starts with.
    static func fileVersion(wallTime: Double) -> [UInt8] {
        var event = ProtoWriter()
        event.double(1, wallTime)
        event.string(3, "brain.Event:2")
        return event.bytes
    }
}

/// TFRecord framing of one record.
public enum TFRecord {
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { out += $0 }
        withUnsafeBytes(of: CRC32C.masked(out[0..<8]).littleEndian) { out += $0 }
        out += data
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { out += $0 }
        return out
    }

    /// Splits a file into its records' data, checking both CRCs of each; throws naming the
    /// record and offset of the first bad one.
    public static func records(_ bytes: [UInt8]) throws(TensorBoardError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        while i < bytes.count {
            guard i + 12 <= bytes.count else { throw .badRecord(index: out.count, offset: i, detail: "truncated header") }
            let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << (8 * $1) })
            guard u32(i + 8) == CRC32C.masked(bytes[i..<(i + 8)]) else {
                throw .badRecord(index: out.count, offset: i, detail: "length CRC mismatch")
            }
            guard length >= 0, i + 12 + length + 4 <= bytes.count else {
                throw .badRecord(index: out.count, offset: i, detail: "truncated data (\(length) bytes announced)")
            }
            let data = Array(bytes[(i + 12)..<(i + 12 + length)])
            guard u32(i + 12 + length) == CRC32C.masked(data) else {
                throw .badRecord(index: out.count, offset: i, detail: "data CRC mismatch")
            }
            out.append(data)
            i += 12 + length + 4
        }
        return out
    }
}

/// Failures of writing or reading event files, naming the file.
public enum TensorBoardError: Error, CustomStringConvertible, Sendable {
    case cannotCreate(path: String, detail: String)
    case writeFailed(path: String, detail: String)
    case badRecord(index: Int, offset: Int, detail: String)

    public var description: String {
        switch self {
        case let .cannotCreate(path, detail): return "\(path): cannot create the TensorBoard event file: \(detail)"
        case let .writeFailed(path, detail): return "\(path): cannot write TensorBoard events: \(detail)"
        case let .badRecord(index, offset, detail): return "TFRecord \(index) at byte \(offset): \(detail)"
        }
    }
}

/// An event file being written: `<directory>/events.out.tfevents.<seconds>.<host>[.<suffix>]`.
/// Each `append` is one write of whole records (a reader may see the file end between two
/// appends, never inside one, short of a crash mid-write, which TensorBoard skips as a
/// truncated record).
public final class EventFileWriter {
    public let path: String
    private let handle: FileHandle

    /// Creates the directory if needed and a new event file in it with its header event.
    public init(directory: String, suffix: String = "", now: Date = Date()) throws(TensorBoardError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreate(path: directory, detail: error.localizedDescription)
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let seconds = Int(now.timeIntervalSince1970)
        var name = "events.out.tfevents.\(seconds).\(host)"
        if !suffix.isEmpty { name += "." + suffix }
        // Two writers in one second (a quick resume) get distinct files.
        var candidate = directory + "/" + name, n = 1
        while FileManager.default.fileExists(atPath: candidate) { candidate = directory + "/" + name + ".\(n)"; n += 1 }
        path = candidate
        guard FileManager.default.createFile(atPath: path, contents: Data(TFRecord.frame(ScalarEvent.fileVersion(wallTime: now.timeIntervalSince1970)))),
              let h = FileHandle(forWritingAtPath: path) else {
            throw .cannotCreate(path: candidate, detail: String(cString: strerror(errno)))
        }
        handle = h
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    /// Appends events (NaN and infinite values are left out: TensorBoard has no gaps).
    public func append(_ events: [ScalarEvent]) throws(TensorBoardError) {
        var bytes: [UInt8] = []
        for var e in events {
            e.scalars = e.scalars.filter { $0.value.isFinite }
            guard !e.scalars.isEmpty else { continue }
            bytes += TFRecord.frame(e.encoded)
        }
        guard !bytes.isEmpty else { return }
        do {
            try handle.write(contentsOf: Data(bytes))
        } catch {
            throw .writeFailed(path: path, detail: error.localizedDescription)
        }
    }
}

extension ScalarEvent {
    /// The event of one metrics-history row: its `step`, and every other column as a scalar
    /// tagged with the column's name (sorted, so the bytes do not depend on dictionary order).
    /// Nil without a finite step.
    public init?(row: [String: Double], wallTime: Double) {
        guard let step = row["step"], step.isFinite else { return nil }
        self.init(wallTime: wallTime, step: Int64(step),
                  scalars: row.filter { $0.key != "step" }.sorted { $0.key < $1.key }.map { ($0.key, Float($0.value)) })
    }
}
