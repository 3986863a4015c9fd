// Reading a run directory: the history as logged, warm restarts, best epoch, a live
// metrics.csv with a half-written last line, and directories that are no runs.

import Foundation
import Testing
import LoomCheckpoint
import LoomTestSupport
@testable import LoomReport

struct RunSnapshotTests {
    static func runDirectory(_ csv: String) throws -> URL {
        let dir = try TestPaths.temporaryDirectory("loom-report-snapshot")
        try csv.write(to: dir.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test func warmRestartsAreRisesAfterAFallNotTheWarmUp() throws {
        // Warm-up 0.01 -> 0.1, cosine down, restart at step 6, down, restart at step 9.
        let csv = "step,epoch,lr\n1,0.1,0.01\n2,0.2,0.05\n3,0.3,0.1\n4,0.4,0.06\n5,0.5,0.02\n6,0.6,0.1\n7,0.7,0.05\n8,0.8,0.01\n9,0.9,0.1\n"
        let dir = try Self.runDirectory(csv)
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try RunSnapshot.read(dir.path)
        #expect(s.restartSteps == [6, 9])
        #expect(s.latest == nil && s.checkpoints.isEmpty)
    }

    @Test func theBestEpochIsTheEvaluationWithTheHighestMeanAccuracy() throws {
        let csv = "step,epoch,val_loss,val_accuracy/a,val_accuracy/b\n1,1,0.5,0.6,0.8\n2,2,0.4,0.9,0.7\n3,3,0.45,0.85,0.7\n4,3.5,nan,nan,nan\n"
        let dir = try Self.runDirectory(csv)
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try RunSnapshot.read(dir.path)
        #expect(s.bestEpoch?.epoch == 2)
        #expect(abs((s.bestEpoch?.score ?? 0) - 0.8) < 1e-12)
        #expect(s.evaluationPrefix == "val")
        #expect(s.historyHeads == ["a", "b"])
        #expect(s.series("val_loss").map(\.0) == [1, 2, 3], "NaN rows are gaps, not points")
    }

    @Test func aLastLineStillBeingWrittenIsLeftOut() throws {
        let dir = try Self.runDirectory("step,lr\n1,0.1\n2,0.1\n3,0.")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try RunSnapshot.read(dir.path)
        #expect(s.history["step"] == [1, 2])
    }

    @Test func aDirectoryWithoutMetricsOrCheckpointsIsNoRun() throws {
        let dir = try TestPaths.temporaryDirectory("loom-report-empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect {
            try RunSnapshot.read(dir.path)
        } throws: { error in
            guard case ReportError.notARunDirectory(let path, _) = error else { return false }
            return path == dir.path
        }
        #expect(throws: ReportError.self) { try RunSnapshot.read(dir.path + "/missing") }
    }

    @Test func aMalformedMetricsFileNamesTheFileAndLine() throws {
        let dir = try Self.runDirectory("step,lr\n1,0.1\n2,abc\n")
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try RunSnapshot.read(dir.path)
            Issue.record("a bad cell was read")
        } catch {
            #expect("\(error)".contains("metrics.csv") && "\(error)".contains("abc"), "\(error)")
        }
    }
}
