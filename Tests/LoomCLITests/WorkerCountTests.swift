// `loom train --workers N`: a negative count is named as such (it used to read as an unknown
// option, "Missing value"), and a count far beyond the CPUs is refused before any process
// starts, unless --force.

import Foundation
import Testing

@Suite struct WorkerCountTests {
    @Test func aNegativeWorkerCountIsNamed() throws {
        let ws = try Workspace("workers-negative", train: 8, test: 8)
        let r = try ws.loom(TrainSpec(workspace: ws, run: "run").arguments(["--workers", "-1"]))
        #expect(r.status != 0 && !r.signalled)
        #expect(r.stderr.contains("--workers must be >= 0, got -1"), "\(r.stderr)")
    }

    @Test func hundredsOfWorkersOnAFewCPUsAreRefusedBeforeAnyStarts() throws {
        let ws = try Workspace("workers-many", train: 8, test: 8)
        // Refused before any process starts: the run is killed and the test fails after 20 s.
        let r = try ws.loom(TrainSpec(workspace: ws, run: "run").arguments(["--workers", "100000"]), timeout: 20)
        #expect(r.status != 0 && !r.signalled)
        #expect(r.stderr.contains("--workers 100000 would start 100000 processes on") && r.stderr.contains("without --force"),
                "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("run")), "nothing was started")
    }
}
