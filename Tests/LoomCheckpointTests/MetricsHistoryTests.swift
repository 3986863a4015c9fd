import Foundation
import LoomCheckpoint
import Testing

@Suite struct MetricsHistoryTests {
    @Test func historyGrowsAcrossTwoSaves() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        var c = Sample.contents(step: 100, metricsRows: 2)
        try run.save(c, keep: 5)
        let first = try CheckpointReader.read(run.checkpointPath(step: 100)).metrics
        for r in 2..<5 { c.metrics.append(Sample.metrics(rows: 1, from: r).row(0)) }
        c.step = 200
        try run.save(c, keep: 5)
        let second = try CheckpointReader.read(run.checkpointPath(step: 200)).metrics
        #expect(first.rowCount == 2 && second.rowCount == 5)
        #expect(second.rows(0..<2) == first)
        #expect(second == Sample.metrics(rows: 5))
    }

    @Test func newColumnIsBackFilledWithNaN() {
        var m = MetricsHistory()
        m.append(["step": 1])
        m.append(["step": 2, "val_loss": 0.5])
        #expect(m["val_loss"]!.count == 2 && m["val_loss"]![0].isNaN && m["val_loss"]![1] == 0.5)
    }

    @Test func nanGapsSurviveACheckpointBitwise() throws {
        let dir = try ScratchDirectory()
        var c = Sample.contents()
        c.metrics.append(["step": 30, "val_loss": 0.25])
        try CheckpointWriter.write(c, to: dir.file("a.h5"))
        let back = try CheckpointReader.read(dir.file("a.h5")).metrics
        #expect(back == c.metrics)
        #expect(back["val_loss"]!.filter(\.isNaN).count == 3)
    }

    @Test func csvAppendsWriteTheHeaderOnce() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        try run.appendMetricsCSV(Sample.metrics(rows: 2))
        try run.appendMetricsCSV(Sample.metrics(rows: 1, from: 2))
        let text = try String(contentsOfFile: run.metricsPath, encoding: .utf8)
        #expect(text.components(separatedBy: "\n").filter { $0.hasPrefix("step,") }.count == 1)
        #expect(try run.readMetricsCSV() == Sample.metrics(rows: 3))
    }

    @Test func csvRoundTripsDoublesExactly() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        let m = MetricsHistory(orderedColumns: [("step", [1, 2, 3]), ("lr", [0.1, 1e-7, 1.0 / 3])])
        try run.appendMetricsCSV(m)
        #expect(try run.readMetricsCSV() == m)
    }

    @Test func csvGainsANewColumnAtTheEndWithoutMovingOthers() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        try run.appendMetricsCSV(MetricsHistory(orderedColumns: [("step", [1]), ("train_loss", [0.9])]))
        try run.appendMetricsCSV(MetricsHistory(orderedColumns: [("step", [2]), ("val_loss", [0.1]), ("train_loss", [0.8])]))
        try run.appendMetricsCSV(MetricsHistory(orderedColumns: [("step", [3]), ("train_loss", [0.7])]))
        let text = try String(contentsOfFile: run.metricsPath, encoding: .utf8)
        #expect(text == "step,train_loss,val_loss\n1,0.9,nan\n2,0.8,0.1\n3,0.7,nan\n")
    }

    @Test func rewriteOnResumeDropsRowsAfterTheCheckpoint() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        try run.appendMetricsCSV(Sample.metrics(rows: 5))
        try run.rewriteMetricsCSV(Sample.metrics(rows: 3))
        try run.appendMetricsCSV(Sample.metrics(rows: 1, from: 3))
        #expect(try run.readMetricsCSV() == Sample.metrics(rows: 4))
    }

    /// `loom train --resume FILE` with a new `checkpoint.dir` rewrites the history into a
    /// directory no fresh run has made yet.
    @Test func rewriteCreatesAMissingRunDirectory() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path + "/new/run")
        try run.rewriteMetricsCSV(Sample.metrics(rows: 3))
        #expect(try run.readMetricsCSV() == Sample.metrics(rows: 3))
    }
}
