import LoomHDF5
import Testing

@Test func seriesGrowsOverSeveralAppends() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        try root.createSeries(Float.self, "metrics/train_loss", chunk: 4)
        try root.append([2.5, 2.0], toSeries: "metrics/train_loss")
        try root.append([1.5], toSeries: "metrics/train_loss")
        try root.append([1.25, 1.0, 0.75, 0.5, 0.25], toSeries: "metrics/train_loss")
    }
    let loss = try scratch.read { try $0.read(Float.self, "metrics/train_loss") }
    #expect(loss == HDF5Array(shape: [8], values: [2.5, 2.0, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25]))
}

@Test func seriesKeepsGrowingAfterReopening() throws {
    let scratch = try ScratchFile()
    try scratch.write { root in
        try root.createSeries(Int64.self, "metrics/step")
        try root.append([1, 2] as [Int64], toSeries: "metrics/step")
    }
    let file = try HDF5File.open(scratch.path, mode: .readWrite)
    try file.root.createSeries(Int64.self, "metrics/step")  // already there: kept as is
    try file.root.append([3] as [Int], toSeries: "metrics/step")
    file.close()
    #expect(try scratch.read { try $0.read(Int64.self, "metrics/step").values } == [1, 2, 3])
}

@Test func newSeriesIsEmpty() throws {
    let scratch = try ScratchFile()
    try scratch.write { try $0.createSeries(Double.self, "lr") }
    try scratch.read { root throws in
        #expect(try root.shape(of: "lr") == [0])
        #expect(try root.elementType(of: "lr") == .float64)
    }
}

@Test func appendingToAFixedSizeDatasetIsAnError() throws {
    let scratch = try ScratchFile()
    let file = try HDF5File.create(scratch.path)
    try file.root.write([1] as [Float], shape: [1], to: "fixed")
    let error = #expect(throws: HDF5Error.self) { try file.root.append([2] as [Float], toSeries: "fixed") }
    #expect(error?.object == "/fixed")
}
