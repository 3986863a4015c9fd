import Foundation
import LoomCheckpoint
import Testing

@Suite struct RoundTripTests {
    @Test func everyFieldSurvivesWriteAndRead() throws {
        let dir = try ScratchDirectory()
        let original = Sample.contents()
        try CheckpointWriter.write(original, to: dir.file("a.h5"))
        let back = try CheckpointReader.read(dir.file("a.h5"))
        #expect(back == original)
    }

    @Test func modelTensorsAreBitwiseEqual() throws {
        let dir = try ScratchDirectory()
        let original = Sample.contents()
        try CheckpointWriter.write(original, to: dir.file("a.h5"))
        let back = try CheckpointReader.read(dir.file("a.h5"))
        #expect(back.model.map(\.name) == original.model.map(\.name))
        for (a, b) in zip(back.model, original.model) {
            #expect(bits(a.values) == bits(b.values), "\(a.name)")
            #expect(a.shape == b.shape)
        }
        #expect(bits(back.optimizer.slots["momentum_buffer"]!) == bits(original.optimizer.slots["momentum_buffer"]!))
    }

    @Test func emptyOptionalSectionsRoundTrip() throws {
        let dir = try ScratchDirectory()
        var original = Sample.contents(metricsRows: 0)
        original.calibration = [:]; original.rngStates = [:]; original.extraAttributes = [:]
        original.batchNormLayers = []; original.numBatchesTracked = 0; original.optimizer.slots = [:]
        try CheckpointWriter.write(original, to: dir.file("a.h5"))
        #expect(try CheckpointReader.read(dir.file("a.h5")) == original)
    }

    @Test func writerFillsInCreationTimeWhenEmpty() throws {
        let dir = try ScratchDirectory()
        var original = Sample.contents()
        original.createdUTC = ""
        try CheckpointWriter.write(original, to: dir.file("a.h5"))
        let created = try CheckpointReader.read(dir.file("a.h5")).createdUTC
        #expect(ISO8601DateFormatter().date(from: created) != nil, "\(created)")
    }

    @Test func peekReportsRootAttributes() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(step: 1200), to: dir.file("a.h5"))
        let s = try CheckpointReader.peek(dir.file("a.h5"))
        #expect(s.step == 1200 && s.epoch == 2 && s.runID == "00c0ffee12345678" && s.formatVersion == 1)
    }

    @Test func atomicWriteLeavesNoTemporaryFile() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("a.h5"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a.h5"])
    }

    @Test func writerRefusesNonFiniteWeights() throws {
        let dir = try ScratchDirectory()
        var c = Sample.contents()
        c.model[0].values[5] = .infinity
        let error = #expect(throws: CheckpointError.self) { try CheckpointWriter.write(c, to: dir.file("a.h5")) }
        #expect(error?.reason == .nonFinite(object: "c1.weight", index: 5, value: .infinity))
        #expect(!FileManager.default.fileExists(atPath: dir.file("a.h5")))
    }

    @Test func writerRefusesRaggedMetrics() throws {
        let dir = try ScratchDirectory()
        var c = Sample.contents()
        c.metrics = MetricsHistory(orderedColumns: [("step", [1, 2]), ("train_loss", [0.5])])
        let error = #expect(throws: CheckpointError.self) { try CheckpointWriter.write(c, to: dir.file("a.h5")) }
        #expect(error?.description.contains("metrics/train_loss") == true)
    }
}
