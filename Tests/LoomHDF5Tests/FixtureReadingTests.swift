import LoomHDF5
import LoomTestSupport
import Testing

@Test func layersFixtureLinearInputHasPyTorchShape() throws {
    let file = try Fixtures.open("layers.h5")
    let x = try file.root.read(Float.self, "/layers/linear/x")
    #expect(x.shape == [5, 13])
    #expect(try file.root.elementType(of: "layers/linear/x") == .float32)
}

@Test func layersFixtureLinearOutputMatchesItsParameters() throws {
    // y = x W^T + b with x (5, 13), W (7, 13), b (7): checks row-major reading end to end.
    let linear = try Fixtures.open("layers.h5").root.group("layers/linear")
    let x = try linear.read(Float.self, "x"), w = try linear.read(Float.self, "param.weight")
    let b = try linear.read(Float.self, "param.bias"), y = try linear.read(Float.self, "y")
    let (n, k, m) = (x.shape[0], x.shape[1], w.shape[0])
    var computed = [Float](repeating: 0, count: n * m)
    for i in 0..<n {
        for j in 0..<m {
            var sum = b.values[j]
            for p in 0..<k { sum += x.values[i * k + p] * w.values[j * k + p] }
            computed[i * m + j] = sum
        }
    }
    #expect(y.shape == [n, m])
    assertClose(computed, y.values, "linear y")
}

@Test func layersFixtureRootConventionsIsAVariableLengthString() throws {
    let conventions = try Fixtures.open("layers.h5").root.stringAttribute("conventions")
    #expect(conventions?.hasPrefix("NCHW activations") == true)
}

@Test func referenceCNNBatchCounterIsAScalarInt64() throws {
    let root = try Fixtures.open("reference_cnn.h5").root
    #expect(try root.shape(of: "init/b1.num_batches_tracked") == [])
    #expect(try root.elementType(of: "init/b1.num_batches_tracked") == .int64)
    #expect(try root.read(Int64.self, "init/b1.num_batches_tracked").values == [0])
}

@Test func calibrationFixtureTemperatureIsAFloat64Attribute() throws {
    let temperature = try #require(try Fixtures.open("calibration.h5").root.doubleAttribute("temperature"))
    #expect(abs(temperature - 2.0347) < 1e-4)
}

@Test func calibrationFixtureInt64LabelsReadAsInt32() throws {
    let labels = try Fixtures.open("calibration.h5").root.read(Int32.self, "labels")
    #expect(labels.shape == [2000])
    #expect(Array(labels.values.prefix(5)) == [2, 3, 5, 4, 4])
}

@Test func fixturesDirectoryHoldsTheReadme() {
    #expect(FileManager.default.fileExists(atPath: Fixtures.url("README.md").path))
}

import Foundation
