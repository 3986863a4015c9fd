import Foundation
import LoomCheckpoint
import LoomHDF5
import LoomTestSupport
import Testing

@Suite struct InspectionTests {
    private func inspected(_ c: CheckpointContents = Sample.contents()) throws -> (ScratchDirectory, CheckpointInspection) {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(c, to: dir.file("a.h5"))
        return (dir, try CheckpointInspection.inspect(dir.file("a.h5")))
    }

    @Test func reportsRunPositionAndParameterCount() throws {
        let (_, i) = try inspected()
        #expect(i.runID == "00c0ffee12345678" && i.step == 300 && i.epoch == 2 && i.lr == 0.0734)
        #expect(i.parameterCount == 36 + 4 + 4 + 4 + 48 + 3)
        #expect(i.calibration == ["category": 1.37])
        #expect(i.metricsRows.count == 3 && i.metricsRows[0].count == i.metrics.names.count)
    }

    @Test func tensorStatisticsAreComputed() throws {
        var c = Sample.contents()
        c.model[1].values = [1, -2, 3, 2]  // c1.bias
        let (_, i) = try inspected(c)
        let bias = try #require(i.tensors.first { $0.name == "c1.bias" })
        #expect(bias.min == -2 && bias.max == 3 && bias.mean == 1 && bias.l2Norm == 18.0.squareRoot())
        #expect(bias.dtype == "float32" && bias.shape == [4] && bias.path == "model/c1/bias")
    }

    @Test func poisonedCheckpointCanStillBeInspected() throws {
        let dir = try ScratchDirectory()
        let c = Sample.contents()
        try CheckpointWriter.write(c, to: dir.file("a.h5"))
        var poisoned = c.model[1].values
        poisoned[2] = .nan
        let file = try HDF5File.open(dir.file("a.h5"), mode: .readWrite)
        try file.root.write(poisoned, shape: [4], to: "model/c1/bias")
        file.close()
        let i = try CheckpointInspection.inspect(dir.file("a.h5"))
        #expect(i.tensors.first { $0.name == "c1.bias" }?.nonFinite == 1)
        #expect(i.renderText(tensors: false).contains("WARNING"))
    }

    @Test func textNamesTheKeyFacts() throws {
        let (_, i) = try inspected()
        let text = i.renderText(tensors: true)
        for needle in ["00c0ffee12345678", "step        300", "sgdr", "sha256:abcdef", "category T=1.37",
                       "val_accuracy/category", "kind: sgd", "c1.weight", "[4, 1, 3, 3]"] {
            #expect(text.contains(needle), "\(needle) missing from:\n\(text)")
        }
        #expect(!i.renderText(tensors: false).contains("[4, 1, 3, 3]"))
    }

    @Test func jsonIsValidAndComplete() throws {
        var c = Sample.contents()
        c.config = "name: \"quoted\"\ttab\\back\n"
        let (_, i) = try inspected(c)
        let object = try JSONSerialization.jsonObject(with: Data(i.renderJSON().utf8)) as? [String: Any]
        let json = try #require(object)
        #expect(json["step"] as? Int == 300)
        #expect(json["config"] as? String == c.config)
        #expect((json["tensors"] as? [Any])?.count == c.model.count + 1)
        #expect(((json["metrics"] as? [String: Any])?["rows"] as? [Any])?.count == 3)
    }

    @Test func metricsCSVMatchesTheHistory() throws {
        let (_, i) = try inspected()
        let lines = i.renderMetricsCSV().split(separator: "\n")
        #expect(lines.first == "step,epoch,lr,train_loss,val_accuracy/category,ece/category,samples_per_s,wall_s")
        #expect(lines.count == 4)
        #expect(lines[1].hasPrefix("0,0,0.1,2.3,"))
    }

    @Test func foreignFileIsNotALoomCheckpoint() throws {
        let error = #expect(throws: CheckpointError.self) {
            try CheckpointInspection.inspect(Fixtures.url("layers.h5").path)
        }
        guard case .notLoomCheckpoint? = error?.reason else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test func truncatedFileIsReported() throws {
        let dir = try ScratchDirectory()
        try CheckpointWriter.write(Sample.contents(), to: dir.file("a.h5"))
        let data = try Data(contentsOf: URL(fileURLWithPath: dir.file("a.h5")))
        try data.prefix(600).write(to: URL(fileURLWithPath: dir.file("a.h5")))
        let error = #expect(throws: CheckpointError.self) { try CheckpointInspection.inspect(dir.file("a.h5")) }
        guard case .truncatedOrCorrupt? = error?.reason else { Issue.record("got \(String(describing: error))"); return }
    }
}
