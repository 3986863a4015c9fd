// A run whose loss diverges stops with one clear line and exit 1, whether its steps are
// computed in the process or by workers: the coordinator used to drop the workers' NaN
// results (rule R12) and wait for good ones forever.

import Foundation
import Testing

@Suite struct DivergenceTests {
    @Test(arguments: [0, 1, 2])
    func aDivergingRunStopsWithTheSameLineWithOrWithoutWorkers(workers: Int) throws {
        let ws = try Workspace("diverge-\(workers)")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 4)
        spec.extra = ["optimizer.lr=1000"]
        // A hang is what this guards against: the run is killed and the test fails after 60 s
        // (it takes about half a second).
        let r = try ws.loom(spec.arguments(["--workers", "\(workers)"]), timeout: 60)
        #expect(!r.signalled && r.status == 1, "status \(r.status): \(r.stderr.suffix(1500))")
        #expect(r.errorLine?.contains("the gradient or batch statistics contain NaN or Inf (loss diverged?); weights left unchanged, last checkpoint kept") == true,
                "\(r.stderr.suffix(1500))")
        if workers > 1 {
            // A second worker was asked before the step was called diverged: nobody is blamed.
            #expect(r.stderr.contains("asking another worker to compute them"), "\(r.stderr.suffix(1500))")
            #expect(!r.stderr.contains("declared dead"))
        }
    }
}
