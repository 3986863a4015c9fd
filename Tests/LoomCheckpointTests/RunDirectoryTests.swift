import Foundation
import LoomCheckpoint
import Testing

@Suite struct RunDirectoryTests {
    @Test func checkpointNamesAreZeroPaddedSoTheySort() {
        #expect(RunDirectory(path: "runs/x/").checkpointPath(step: 300) == "runs/x/ckpt-00000300.h5")
    }

    @Test func saveWritesCheckpointAndPointsLatestAtIt() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.file("run"))
        let path = try run.save(Sample.contents(step: 100), keep: 3)
        #expect(path == run.checkpointPath(step: 100))
        #expect(run.latest() == path)
        #expect(try CheckpointReader.read(run.latestPath).step == 100)
    }

    @Test func pruningKeepsTheNewestKeepCheckpoints() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        for step in [100, 200, 300, 400, 500] { try run.save(Sample.contents(step: step), keep: 2) }
        #expect(run.checkpoints().map(\.step) == [400, 500])
        #expect(run.latest() == run.checkpointPath(step: 500))
    }

    @Test func pruningNeverDeletesTheCheckpointJustWritten() throws {
        // A stale newer file (from a diverged timeline) outranks the new one by step,
        // but the checkpoint just written must survive even with keep = 1.
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        try run.save(Sample.contents(step: 900), keep: 5)
        try run.save(Sample.contents(step: 200), keep: 1)
        #expect(run.checkpoints().map(\.step) == [200, 900])
        #expect(run.latest() == run.checkpointPath(step: 200))
    }

    @Test func pruningSparesTheCheckpointLatestNames() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        for step in [100, 200, 300] { try run.save(Sample.contents(step: step), keep: 5) }
        try FileManager.default.removeItem(atPath: run.latestPath)
        try FileManager.default.createSymbolicLink(atPath: run.latestPath, withDestinationPath: "ckpt-00000100.h5")
        #expect(run.prune(keep: 1) == [run.checkpointPath(step: 200)])
        #expect(run.checkpoints().map(\.step) == [100, 300])
    }

    @Test func resumeAutoTakesTheNewestCheckpoint() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        for step in [100, 200] { try run.save(Sample.contents(step: step), keep: 5) }
        let point = try #require(try run.resolveResume("auto"))
        #expect(point.contents.step == 200 && point.skipped.isEmpty)
    }

    @Test func resumeAutoSkipsACorruptNewestCheckpoint() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        for step in [100, 200] { try run.save(Sample.contents(step: step), keep: 5) }
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: run.checkpointPath(step: 300)))
        let point = try #require(try run.resolveResume("auto", expecting: Sample.expectation))
        #expect(point.path == run.checkpointPath(step: 200))
        #expect(point.skipped.map(\.path) == [run.checkpointPath(step: 300)])
        #expect(point.skipped.first?.error.reason == .notHDF5)
    }

    @Test func resumeAutoInAnEmptyDirectoryIsNil() throws {
        let dir = try ScratchDirectory()
        #expect(try RunDirectory(path: dir.file("fresh")).resolveResume("auto") == nil)
    }

    @Test func resumeAutoWithOnlyBadCheckpointsThrows() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: run.checkpointPath(step: 300)))
        let error = #expect(throws: CheckpointError.self) { try run.resolveResume("auto") }
        guard case .noValidCheckpoint(count: 1, _)? = error?.reason else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test func resumeFromAnExplicitFileReadsThatFile() throws {
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        for step in [100, 200] { try run.save(Sample.contents(step: step), keep: 5) }
        let point = try #require(try run.resolveResume(run.checkpointPath(step: 100)))
        #expect(point.contents.step == 100)
    }

    @Test func failedWriteThrowsAndLeavesExistingCheckpointsIntact() throws {
        // Tests run as root, where a read-only directory does not stop writes. Instead the
        // target name is taken by a directory: the temporary file is written, the rename
        // fails (EISDIR), and the temporary file must be removed.
        let dir = try ScratchDirectory()
        let run = RunDirectory(path: dir.path)
        try run.save(Sample.contents(step: 100), keep: 5)
        let before = try Data(contentsOf: URL(fileURLWithPath: run.checkpointPath(step: 100)))
        try FileManager.default.createDirectory(atPath: run.checkpointPath(step: 200), withIntermediateDirectories: false)
        let error = #expect(throws: CheckpointError.self) { try run.save(Sample.contents(step: 200), keep: 1) }
        guard case .writeFailed? = error?.reason else { Issue.record("got \(String(describing: error))"); return }
        #expect(try Data(contentsOf: URL(fileURLWithPath: run.checkpointPath(step: 100))) == before)
        #expect(run.latest() == run.checkpointPath(step: 100))
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!names.contains { $0.contains(".tmp-") }, "\(names)")
    }

    @Test func runDirectoryUnderARegularFileThrows() throws {
        // ENOTDIR: a failure that root cannot bypass.
        let dir = try ScratchDirectory()
        FileManager.default.createFile(atPath: dir.file("plain"), contents: Data("x".utf8))
        let run = RunDirectory(path: dir.file("plain/run"))
        #expect(throws: CheckpointError.self) { try run.save(Sample.contents(), keep: 1) }
    }

    @Test func writerCannotCreateTemporaryFileUnderARegularFile() throws {
        let dir = try ScratchDirectory()
        FileManager.default.createFile(atPath: dir.file("plain"), contents: Data("x".utf8))
        let error = #expect(throws: CheckpointError.self) {
            try CheckpointWriter.write(Sample.contents(), to: dir.file("plain/ckpt.h5"))
        }
        guard case .writeFailed? = error?.reason else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test func staleTemporaryFilesOfDeadWritersAreRemoved() throws {
        let dir = try ScratchDirectory()
        // A pid above any pid_max Linux allows (2^22), so no process can have it.
        let stale = dir.file(".ckpt-00000100.h5.tmp-2147483646")
        FileManager.default.createFile(atPath: stale, contents: Data("partial".utf8))
        try RunDirectory(path: dir.path).save(Sample.contents(step: 100), keep: 1)
        #expect(!FileManager.default.fileExists(atPath: stale))
    }
}
