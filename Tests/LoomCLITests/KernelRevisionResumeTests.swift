// A checkpoint records the revision of Loom's arithmetic it was trained with. A run resumed
// from a checkpoint of another revision (another Loom build whose kernels round differently,
// or one from before revisions were recorded) goes on, and says once that it now matches an
// uninterrupted run only to rounding; its next checkpoints carry this build's revision.

import Foundation
import LoomHDF5
import LoomKernels
import Testing

@Suite struct KernelRevisionResumeTests {
    @Test func aCheckpointOfAnotherRevisionResumesWithAWarningAndTheNextCarriesOurs() throws {
        let ws = try Workspace("kernel-revision")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        spec.epochs = 1
        let first = try ws.loom(spec.arguments(), timeout: 120)
        #expect(first.status == 0, "\(first.stderr.suffix(1500))")
        let written = try ws.loom(["inspect", spec.latest])
        #expect(written.stdout.contains("kernel revision \(KernelIdentity.revision)"), "\(written.stdout)")

        // The checkpoint as an older build would have written it.
        let older = KernelIdentity.revision - 1
        let file = try HDF5File.open(spec.latest, mode: .readWrite)
        try file.root.setAttribute("loom_kernel_revision", older, on: "/")
        file.close()
        let before = try ws.loom(["inspect", spec.latest])
        #expect(before.stdout.contains(older == 0 ? "kernel revision not recorded" : "kernel revision \(older)"), "\(before.stdout)")

        spec.epochs = 2
        let resumed = try ws.loom(spec.arguments(["--resume", "auto"]), timeout: 120)
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(1500))")
        let warnings = lines(of: resumed.stderr, containing: "its weights now match an uninterrupted run only to rounding")
        #expect(warnings.count == 1, "\(resumed.stderr.suffix(3000))")
        #expect(warnings.first?.contains("kernel revision \(KernelIdentity.revision)") == true)
        let after = try ws.loom(["inspect", spec.latest])
        #expect(after.stdout.contains("kernel revision \(KernelIdentity.revision)"), "\(after.stdout)")
    }
}
