import Foundation
import LoomCheckpoint
import Testing

@Suite struct DiffTests {
    private func pair(_ a: CheckpointContents, _ b: CheckpointContents) throws -> (ScratchDirectory, CheckpointDiff) {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(a, to: dir.file("a.h5"))
        try CheckpointWriter.write(b, to: dir.file("b.h5"))
        return (dir, try CheckpointDiff.compare(dir.file("a.h5"), dir.file("b.h5")))
    }

    @Test func sameWeightsAreIdenticalEvenWithOtherMetrics() throws {
        var b = Sample.contents()
        b.metrics = Sample.metrics(rows: 5)
        let (_, d) = try pair(Sample.contents(), b)
        #expect(d.identical)
        #expect(d.fieldDifferences == ["metrics rows: 3 vs 5"])
        #expect(d.render().contains("identical"))
    }

    @Test func firstDifferingElementIsLocated() throws {
        var b = Sample.contents()
        b.model[6].values[21] += 0.5  // f1.weight (3, 16): row 1, column 5
        let (_, d) = try pair(Sample.contents(), b)
        #expect(!d.identical)
        let row = try #require(d.tensors.first { $0.name == "f1.weight" })
        #expect(row.differingCount == 1 && row.firstIndex == 21 && row.firstMultiIndex == [1, 5])
        #expect(row.valueB == Sample.contents().model[6].values[21] + 0.5)
        #expect(abs(row.maxAbsDiff - 0.5) < 1e-6)
        #expect(d.tensors.filter { !$0.isIdentical }.map(\.name) == ["f1.weight"])
    }

    @Test func negativeZeroCountsAsADifference() throws {
        var a = Sample.contents(), b = Sample.contents()
        a.model[1].values[0] = 0
        b.model[1].values[0] = -0.0
        let (_, d) = try pair(a, b)
        #expect(!d.identical)
    }

    @Test func numBatchesTrackedCountsForIdentity() throws {
        var b = Sample.contents()
        b.numBatchesTracked += 1
        let (_, d) = try pair(Sample.contents(), b)
        #expect(!d.identical)
    }

    @Test func structuralDifferencesAreListed() throws {
        var b = Sample.contents()
        b.model.removeLast()                     // f1.bias only in A
        b.model[6] = NamedTensor(name: "f1.weight", shape: [2, 24], values: b.model[6].values)
        b.model.append(NamedTensor(name: "f2.bias", shape: [1], values: [1]))
        b.optimizer.slots = [:]
        let (_, d) = try pair(Sample.contents(), b)
        #expect(!d.identical)
        #expect(d.onlyInA == ["f1.bias", "optimizer/momentum_buffer"] && d.onlyInB == ["f2.bias"])
        #expect(d.shapeMismatches == [ShapeMismatch(name: "f1.weight", shapeA: [3, 16], shapeB: [2, 24])])
    }

    @Test func configChangesAreShownAsLines() throws {
        var b = Sample.contents()
        b.config = b.config.replacingOccurrences(of: "lr: 0.1", with: "lr: 0.05")
        let (_, d) = try pair(Sample.contents(), b)
        #expect(d.configDiff == ["-   lr: 0.1", "+   lr: 0.05"])
        #expect(d.identical)
        #expect(d.render().contains("+   lr: 0.05"))
    }
}
