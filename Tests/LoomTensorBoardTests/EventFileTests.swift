// TensorBoard event files read back on the Swift side: the TFRecord framing and its masked
// CRC-32C, and the Event/Summary protocol buffers, decoded field by field.

import Foundation
import Testing
import LoomTestSupport
@testable import LoomTensorBoard
@testable import LoomReport

/// A protocol-buffer reader for the test: field number → values (varint / fixed64 /
/// fixed32 as UInt64, length-delimited as bytes).
struct ProtoFields {
    var varints: [Int: [UInt64]] = [:]
    var fixed: [Int: [UInt64]] = [:]
    var bytes: [Int: [[UInt8]]] = [:]

    init(_ data: [UInt8]) throws {
        var i = 0
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < data.count else { throw CocoaError(.coderReadCorrupt) }
                let b = data[i]; i += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }
        func little(_ n: Int) -> UInt64 {
            defer { i += n }
            return (0..<n).reduce(UInt64(0)) { $0 | UInt64(data[i + $1]) << (8 * UInt64($1)) }
        }
        while i < data.count {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: varints[field, default: []].append(try varint())
            case 1: fixed[field, default: []].append(little(8))
            case 5: fixed[field, default: []].append(little(4))
            case 2:
                let n = Int(try varint())
                bytes[field, default: []].append(Array(data[i..<(i + n)])); i += n
            default: throw CocoaError(.coderReadCorrupt)
            }
        }
    }
}

struct EventFileTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // 32 zero bytes (RFC 3720, B.4).
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test func framedRecordsReadBackAndACorruptByteIsCaught() throws {
        let records: [[UInt8]] = [[1, 2, 3], [], Array("scalar".utf8)]
        var file = records.flatMap(TFRecord.frame)
        #expect(try TFRecord.records(file) == records)
        file[8 + 4 + 16 + 1] ^= 0x40   // inside the third record's data
        #expect(throws: TensorBoardError.self) { try TFRecord.records(file) }
    }

    @Test func aScalarEventDecodesToItsStepWallTimeTagsAndValues() throws {
        let event = try #require(ScalarEvent(row: ["step": 120, "train_loss": 0.25, "val_accuracy/category": 0.875],
                                             wallTime: 1_765_000_000.5))
        let fields = try ProtoFields(event.encoded)
        #expect(fields.fixed[1] == [Double(1_765_000_000.5).bitPattern])
        #expect(fields.varints[2] == [120])
        let summary = try ProtoFields(try #require(fields.bytes[5]?.first))
        let values = try (summary.bytes[1] ?? []).map { v -> (String, Float) in
            let f = try ProtoFields(v)
            return (String(decoding: f.bytes[1]![0], as: UTF8.self), Float(bitPattern: UInt32(f.fixed[2]![0])))
        }
        #expect(values.map(\.0) == ["train_loss", "val_accuracy/category"])
        #expect(values.map(\.1) == [0.25, 0.875])
    }

    @Test func anExportHoldsTheHeaderThenOneEventPerRowWithoutNaN() throws {
        let dir = try TestPaths.temporaryDirectory("loom-tb-export")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = dir.appendingPathComponent("run").path
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        try "step,epoch,lr,train_loss,val_loss,wall_s\n10,0.5,0.1,1.5,nan,2\n20,1,0.1,1.25,1.375,4\n"
            .write(toFile: run + "/metrics.csv", atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("tb").path
        let first = try TensorBoardExport.export(runDirectory: run, to: out)
        let second = try TensorBoardExport.export(runDirectory: run, to: out)
        #expect(second.events == 2)
        // The second export replaced the first.
        let files = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(files.count == 1 && files[0].hasPrefix("events.out.tfevents."), "\(files) (first \(first.path))")
        let records = try TFRecord.records([UInt8](try Data(contentsOf: URL(fileURLWithPath: second.path))))
        #expect(records.count == 3)
        let header = try ProtoFields(records[0])
        #expect(header.bytes[3].map { $0.map { String(decoding: $0, as: UTF8.self) } } == ["brain.Event:2"])
        let steps = try records.dropFirst().map { try ProtoFields($0).varints[2]?.first }
        #expect(steps == [10, 20])
        // Row 1 has no val_loss (NaN): 4 scalars (epoch, lr, train_loss, wall_s); row 2 has 5.
        let counts = try records.dropFirst().map { try ProtoFields(try ProtoFields($0).bytes[5]![0]).bytes[1]?.count }
        #expect(counts == [4, 5])
        // Wall times 2 s apart, as wall_s says.
        let walls = try records.dropFirst().map { Double(bitPattern: try ProtoFields($0).fixed[1]![0]) }
        #expect(walls[1] - walls[0] == 2)
    }
}
