// `loom bench` refuses bad measurement arguments before it starts any worker.

import Foundation
import LoomTestSupport
import Testing

@Suite struct BenchArgumentsTests {
    @Test func zeroRoundsIsRefused() throws {
        let ws = try Workspace("bench-rounds")
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/reference-cnn.yaml").path
        let result = try ws.loom(["bench", "--model", model, "--workers", "1,2", "--rounds", "0"])
        expectCleanFailure(result, naming: ["--rounds", "0"], "bench --rounds 0")
    }

    @Test func aWorkerCountThatIsNotPositiveIsRefused() throws {
        let ws = try Workspace("bench-workers")
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/reference-cnn.yaml").path
        let result = try ws.loom(["bench", "--model", model, "--workers", "1,0"])
        expectCleanFailure(result, naming: ["--workers", "1,0"], "bench --workers 1,0")
    }

    /// `loom bench --hosts` checks its arguments before it asks for root or makes a bed.
    @Test func badHostsArgumentsAreRefusedBeforeAnyBed() throws {
        let ws = try Workspace("bench-hosts")
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/reference-cnn.yaml").path
        for (extra, named) in [(["--hosts", "1,0"], ["--hosts", "1,0"]), (["--hosts", "1,2", "--link", "fast"], ["--link", "fast"]),
                               (["--hosts", "1,2", "--slots", "0"], ["--slots", "0"]),
                               (["--hosts", "1,2", "--compute-ms", "0"], ["--compute-ms"])] {
            let result = try ws.loom(["bench", "--model", model] + extra)
            expectCleanFailure(result, naming: named, "bench \(extra.joined(separator: " "))")
        }
    }

    @Test func aWorkerWithoutSlotsIsRefused() throws {
        let ws = try Workspace("worker-slots")
        let result = try ws.loom(["worker", "--connect", "ipc:///nonexistent/loom.sock", "--slots", "0"])
        #expect(result.status != 0 && result.stderr.contains("--slots"), "\(result.stderr)")
    }
}
