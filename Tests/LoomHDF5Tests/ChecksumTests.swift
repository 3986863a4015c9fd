// Fletcher-32 chunk checksums: a dataset written with `checksum: true` says so, reads back
// as written, and a byte changed inside one of its chunks on disk fails the read with an
// error of kind `.checksumMismatch` naming the file and the dataset, never wrong numbers.

import Foundation
import LoomHDF5
import Testing

/// Flips every bit of the byte at `offset` of the file at `path`.
func flipByte(at offset: Int, of path: String) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    let byte = try handle.read(upToCount: 1)![0]
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: [~byte])
}

@Suite struct ChecksumTests {
    let values = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }

    @Test func aChecksummedDatasetRecordsTheFilterAndReadsBackAsWritten() throws {
        let s = try ScratchFile()
        try s.write { try $0.write(values, shape: [64, 64], to: "x", chunkRows: 16, compressionLevel: 4, checksum: true) }
        try s.read { root throws in
            let storage = try root.storage(of: "x")
            #expect(storage.filters == ["shuffle", "deflate", "fletcher32"])
            #expect(storage.isChecksummed && storage.chunkRows == 16)
            #expect(try root.chunks(of: "x").count == 4)
            #expect(try root.read(UInt8.self, "x").values == values)
        }
    }

    @Test(arguments: [false, true])
    func aFlippedByteInAChunkFailsItsReadNamingFileAndDataset(compressed: Bool) throws {
        let s = try ScratchFile()
        try s.write { try $0.write(values, shape: [64, 64], to: "g/x", chunkRows: 16, compressionLevel: compressed ? 4 : nil, checksum: true) }
        let chunk = try s.read { try $0.chunks(of: "g/x")[2] }
        try flipByte(at: chunk.fileOffset + chunk.size / 2, of: s.path)
        try s.read { root throws in
            // Rows of the intact chunks still read; the whole dataset and the bad chunk's rows do not.
            #expect(try root.readRows(UInt8.self, "g/x", rows: 0..<16).values == Array(values[0..<(16 * 64)]))
            let whole = #expect(throws: HDF5Error.self) { _ = try root.read(UInt8.self, "g/x") }
            let row = #expect(throws: HDF5Error.self) { _ = try root.readRows(UInt8.self, "g/x", rows: 40..<41) }
            for error in [whole, row] {
                #expect(error?.kind == .checksumMismatch)
                #expect(error?.file == s.path && error?.object == "/g/x")
                #expect(error?.description.contains("Fletcher32") == true, "\(String(describing: error))")
            }
        }
    }

    @Test func withoutChecksumsTheSameFlipIsReadAsData() throws {
        // Why the checksums are there: an unfiltered chunk hands back whatever the disk holds.
        let s = try ScratchFile()
        try s.write { try $0.write(values, shape: [64, 64], to: "x", chunkRows: 16) }
        let storage = try s.read { try $0.storage(of: "x") }
        #expect(storage.filters.isEmpty && !storage.isChecksummed)
        let chunk = try s.read { try $0.chunks(of: "x")[2] }
        try flipByte(at: chunk.fileOffset + 5, of: s.path)
        let read = try s.read { try $0.read(UInt8.self, "x").values }
        #expect(read != values && read[32 * 64 + 5] == ~values[32 * 64 + 5])
    }

    @Test func contiguousAndScalarDatasetsHaveNoChunks() throws {
        let s = try ScratchFile()
        try s.write { root in
            try root.write([Float(1), 2, 3], shape: [3], to: "c")
            try root.writeScalar(Int32(4), to: "s")
        }
        try s.read { root throws in
            #expect(try root.chunks(of: "c").isEmpty && root.storage(of: "c").chunkRows == nil)
            #expect(try root.chunks(of: "s").isEmpty)
        }
    }

    @Test func fileStatusNamesTheOpenFile() throws {
        let s = try ScratchFile()
        try s.write { try $0.write([Float(1)], shape: [1], to: "x") }
        let file = try HDF5File.open(s.path)
        defer { file.close() }
        let status = try file.status()
        var st = stat()
        #expect(stat(s.path, &st) == 0)
        #expect(status.inode == UInt64(st.st_ino) && status.size == Int64(st.st_size) && status.device == UInt64(st.st_dev))
    }
}
