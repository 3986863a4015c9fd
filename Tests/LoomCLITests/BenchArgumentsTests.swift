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
}
