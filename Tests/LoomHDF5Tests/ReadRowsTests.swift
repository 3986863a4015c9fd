import LoomHDF5
import Testing

/// A (5, 2, 3) int32 dataset whose element [i, j, k] is 100*i + 10*j + k.
private func rowsFile() throws -> ScratchFile {
    let scratch = try ScratchFile()
    var values: [Int32] = []
    for i in 0..<5 { for j in 0..<2 { for k in 0..<3 { values.append(Int32(100 * i + 10 * j + k)) } } }
    try scratch.write { try $0.write(values, shape: [5, 2, 3], to: "images", chunkRows: 2) }
    return scratch
}

@Test func readRowsReturnsAHyperslabOverTheFirstDimension() throws {
    let scratch = try rowsFile()
    let rows = try scratch.read { try $0.readRows(Int32.self, "images", rows: 3..<5) }
    #expect(rows.shape == [2, 2, 3])
    #expect(rows.values == [300, 301, 302, 310, 311, 312, 400, 401, 402, 410, 411, 412])
}

@Test func readRowsIntoBufferFillsTheCallersMemory() throws {
    let scratch = try rowsFile()
    var buffer = [Float](repeating: -1, count: 6)
    try scratch.read { root throws in
        try buffer.withUnsafeMutableBufferPointer { try root.readRows(Float.self, "images", rows: 1..<2, into: $0) }
    }
    #expect(buffer == [100, 101, 102, 110, 111, 112])
}

@Test func readRowsOutOfRangeIsAnError() throws {
    let scratch = try rowsFile()
    try scratch.read { root throws in
        let error = #expect(throws: HDF5Error.self) { try root.readRows(Int32.self, "images", rows: 4..<6) }
        #expect(error?.description.contains("out of range") == true)
        #expect(error?.object == "/images")
    }
}

@Test func readRowsIntoABufferOfTheWrongSizeIsAnError() throws {
    let scratch = try rowsFile()
    var buffer = [Int32](repeating: 0, count: 5)
    try scratch.read { root throws in
        #expect(throws: HDF5Error.self) {
            try buffer.withUnsafeMutableBufferPointer { try root.readRows(Int32.self, "images", rows: 0..<1, into: $0) }
        }
    }
}

@Test func readRowsOfAnEmptyRangeReturnsNoValues() throws {
    let scratch = try rowsFile()
    let rows = try scratch.read { try $0.readRows(Int32.self, "images", rows: 2..<2) }
    #expect(rows.shape == [0, 2, 3])
    #expect(rows.values.isEmpty)
}
