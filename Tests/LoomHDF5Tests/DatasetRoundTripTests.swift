import LoomHDF5
import Testing

/// Writes `values` with `shape`, reopens the file, reads them back as the same type.
private func roundTrip<T: HDF5Scalar & Equatable>(_ values: [T], shape: [Int]) throws -> HDF5Array<T> {
    let scratch = try ScratchFile()
    try scratch.write { try $0.write(values, shape: shape, to: "data") }
    return try scratch.read { try $0.read(T.self, "data") }
}

@Test func float32DatasetRoundTripsWithShape() throws {
    let values: [Float] = (0..<24).map { Float($0) * 0.5 - 3 }
    let read = try roundTrip(values, shape: [2, 3, 4])
    #expect(read == HDF5Array(shape: [2, 3, 4], values: values))
}

@Test func everyScalarTypeRoundTripsAndKeepsItsElementType() throws {
    let scratch = try ScratchFile()
    try scratch.write { root throws in
        try root.write([1.5, -2] as [Float], shape: [2], to: "f32")
        try root.write([1.5, -2e300] as [Double], shape: [2], to: "f64")
        try root.write([-128, 127] as [Int8], shape: [2], to: "i8")
        try root.write([-32768, 7] as [Int16], shape: [2], to: "i16")
        try root.write([Int32.min, Int32.max] as [Int32], shape: [2], to: "i32")
        try root.write([Int64.min, Int64.max] as [Int64], shape: [2], to: "i64")
        try root.write([0, 255] as [UInt8], shape: [2], to: "u8")
        try root.write([0, 65535] as [UInt16], shape: [2], to: "u16")
        try root.write([0, UInt32.max] as [UInt32], shape: [2], to: "u32")
        try root.write([0, UInt64.max] as [UInt64], shape: [2], to: "u64")
        try root.write([-1, 1 << 40] as [Int], shape: [2], to: "int")
    }
    try scratch.read { root throws in
        #expect(try root.read(Float.self, "f32").values == [1.5, -2])
        #expect(try root.read(Double.self, "f64").values == [1.5, -2e300])
        #expect(try root.read(Int8.self, "i8").values == [-128, 127])
        #expect(try root.read(Int16.self, "i16").values == [-32768, 7])
        #expect(try root.read(Int32.self, "i32").values == [Int32.min, Int32.max])
        #expect(try root.read(Int64.self, "i64").values == [Int64.min, Int64.max])
        #expect(try root.read(UInt8.self, "u8").values == [0, 255])
        #expect(try root.read(UInt16.self, "u16").values == [0, 65535])
        #expect(try root.read(UInt32.self, "u32").values == [0, UInt32.max])
        #expect(try root.read(UInt64.self, "u64").values == [0, UInt64.max])
        #expect(try root.read(Int.self, "int").values == [-1, 1 << 40])
        let kinds: [String: HDF5ElementType] = [
            "f32": .float32, "f64": .float64, "i8": .int8, "i16": .int16, "i32": .int32, "i64": .int64,
            "u8": .uint8, "u16": .uint16, "u32": .uint32, "u64": .uint64, "int": .int64,
        ]
        for (name, kind) in kinds { #expect(try root.elementType(of: name) == kind, "\(name)") }
    }
}

@Test func scalarDatasetHasEmptyShapeAndOneValue() throws {
    let scratch = try ScratchFile()
    try scratch.write { try $0.writeScalar(Int64(42), to: "step") }
    try scratch.read { root throws in
        #expect(try root.shape(of: "step") == [])
        #expect(try root.read(Int64.self, "step") == HDF5Array(shape: [], values: [42]))
    }
}

@Test func emptyDatasetRoundTrips() throws {
    let read = try roundTrip([] as [Float], shape: [0, 3])
    #expect(read.shape == [0, 3])
    #expect(read.values.isEmpty)
}

@Test func readConvertsBetweenNumericTypes() throws {
    let scratch = try ScratchFile()
    try scratch.write { root throws in
        try root.write([0.25, 1e10] as [Double], shape: [2], to: "doubles")
        try root.write([7, -3] as [Int64], shape: [2], to: "longs")
    }
    try scratch.read { root throws in
        #expect(try root.read(Float.self, "doubles").values == [0.25, 1e10])
        #expect(try root.read(Int32.self, "longs").values == [7, -3])
        #expect(try root.read(Double.self, "longs").values == [7, -3])
    }
}

@Test func writeReplacesAnExistingDatasetOfAnotherShapeAndType() throws {
    let scratch = try ScratchFile()
    try scratch.write { root throws in
        try root.write([1, 2, 3] as [Int32], shape: [3], to: "w")
        try root.write([9, 8, 7, 6] as [Float], shape: [2, 2], to: "w")
    }
    try scratch.read { root throws in
        #expect(try root.elementType(of: "w") == .float32)
        #expect(try root.read(Float.self, "w") == HDF5Array(shape: [2, 2], values: [9, 8, 7, 6]))
    }
}

@Test func writeCreatesIntermediateGroups() throws {
    let scratch = try ScratchFile()
    try scratch.write { try $0.write([1] as [Float], shape: [1], to: "model/c1/weight") }
    try scratch.read { root throws in
        #expect(root.isGroup("model/c1"))
        #expect(root.isDataset("model/c1/weight"))
        #expect(try root.group("model").read(Float.self, "c1/weight").values == [1])
    }
}

@Test func writeRejectsValuesThatDoNotFillTheShape() throws {
    let scratch = try ScratchFile()
    let file = try HDF5File.create(scratch.path)
    let error = #expect(throws: HDF5Error.self) {
        try file.root.write([1, 2, 3] as [Float], shape: [2, 2], to: "bad")
    }
    #expect(error?.object == "/bad")
    #expect(!file.root.exists("bad"))
}

@Test func chunkedCompressedDatasetRoundTripsAndIsSmaller() throws {
    let values = [Float](repeating: 0.5, count: 64 * 1024)
    let plain = try ScratchFile(), packed = try ScratchFile()
    try plain.write { try $0.write(values, shape: [256, 256], to: "x") }
    try packed.write { try $0.write(values, shape: [256, 256], to: "x", chunkRows: 32, compressionLevel: 6) }
    #expect(try packed.read { try $0.read(Float.self, "x").values } == values)
    let size = { (path: String) in try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0 }
    #expect(try size(packed.path) * 10 < size(plain.path))
}

import Foundation

/// Readers take no lock: another process holding an exclusive lock on the file (as a child
/// spawned by another thread does for an instant with a writer's descriptor) does not make
/// a read-only open fail. Loom never renames a file into place before it is whole.
@Test func aReadOnlyOpenIgnoresAnotherProcesssLock() throws {
    let scratch = try ScratchFile()
    try scratch.write { try $0.write([1, 2, 3] as [Float], shape: [3], to: "x") }
    let holder = Process()
    holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
    holder.arguments = ["--exclusive", "--nonblock", "--no-fork", scratch.path, "-c", "echo locked; exec sleep 20"]
    let out = Pipe()
    holder.standardOutput = out
    try holder.run()
    defer { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
    let line = try out.fileHandleForReading.read(upToCount: 7)
    try #require(line == Data("locked\n".utf8), "flock(1) holds the lock")
    #expect(try scratch.read { try $0.read(Float.self, "x").values } == [1, 2, 3])
}
