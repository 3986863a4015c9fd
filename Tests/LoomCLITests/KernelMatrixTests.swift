// Kernels as users meet them: the numeric fixture tests under every OpenBLAS core type and
// every path of Loom's own kernels this host runs (a core type that computes wrong results
// here is caught), the re-execution that picks better kernels than a generic core, the
// user's OPENBLAS_CORETYPE winning, and a worker with other kernels refused by the
// coordinator unless --allow-mixed-kernels.

import Foundation
import LoomKernels
import LoomTestSupport
import Testing

@Suite struct KernelMatrixTests {
    /// The fixture suites: layers, losses, optimizers, schedules, calibration, reference CNN.
    static let fixtureFilter = #"LoomKernelsTests|LoomModelTests|LoomTrainingTests\.(OptimizerFixtureTests|OptimizerTests|LossFixtureTests|ScheduleTests|CalibrationTests)"#

    /// Runs this test binary again on the fixture suites with `environment`; returns its
    /// status and output.
    static func fixtureRun(_ environment: [String: String], in ws: Workspace) throws -> LoomResult {
        try Loom.run(["--testing-library", "swift-testing", "--filter", fixtureFilter],
                     in: ws.directory, timeout: 300, environment: environment, executable: TestPaths.testExecutable)
    }

    static func expectPassed(_ r: LoomResult, _ what: String) {
        let output = r.stdout + r.stderr
        #expect(r.status == 0 && !r.signalled, "fixture tests under \(what) failed:\n\(output.suffix(3000))")
        // The child really ran the fixture tests, and the check that it ran the kernels asked for.
        #expect(output.contains("theRequestedKernelsRun()") && output.contains("fiveSGDStepsMatchPyTorch()"),
                "under \(what): \(output.suffix(1500))")
        #expect(!output.contains("✘"), "under \(what): a test failed")
    }

    /// The core types to test: every one this CPU runs, but none above a core type the
    /// host's environment pins with OPENBLAS_CORETYPE (operators set it where newer kernels
    /// crash or compute wrong results with this OpenBLAS).
    static var coresToTest: [BLASCoreType] {
        let all = BLASCoreType.distinctRunnable(on: .current)
        guard let pinned = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].flatMap(BLASCoreType.named) else { return all }
        return all.filter { $0.rank <= pinned.rank }
    }

    @Test func fixtureTestsPassUnderEveryBLASCoreTypeThisHostRuns() throws {
        let ws = try Workspace("kernel-cores", train: 8, test: 8)
        let cores = Self.coresToTest
        #expect(cores.contains { $0.name == "Prescott" })
        for core in cores {
            let r = try Self.fixtureRun(["OPENBLAS_CORETYPE": core.name, "LOOM_TEST_EXPECT_BLAS_CORE": core.name], in: ws)
            Self.expectPassed(r, "OPENBLAS_CORETYPE=\(core.name)")
        }
    }

    @Test func fixtureTestsPassOnEveryPathOfLoomsOwnKernels() throws {
        let ws = try Workspace("kernel-paths", train: 8, test: 8)
        for path in KernelPath.runnable(on: .current) {
            let r = try Self.fixtureRun(["LOOM_TEST_KERNEL_PATH": path.rawValue], in: ws)
            Self.expectPassed(r, "Loom's \(path.rawValue) path")
        }
    }

    /// A short `loom bench` of the MLP, which logs the kernel line first.
    static func kernelLine(_ environment: [String: String], in ws: Workspace) throws -> LoomResult {
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/mlp.yaml").path
        return try ws.loom(["bench", "--model", model, "--batch", "32", "--micro-batch", "8", "--seconds", "0.05"],
                           environment: environment)
    }

    /// Skipped where the host's environment pins OPENBLAS_CORETYPE: its operators keep newer
    /// kernels off that CPU, and the re-executed process would run them.
    @Test(.enabled(if: (ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "").isEmpty,
                   "the host pins OPENBLAS_CORETYPE"))
    func aGenericCoreIsReplacedByTheBestTheCPURunsAndTheFirstLineSaysWhy() throws {
        guard let best = BLASCoreType.best(for: .current) else { return }  // no AVX2 here: nothing to choose
        let ws = try Workspace("kernel-reexec", train: 8, test: 8)
        let r = try Self.kernelLine(["LOOM_TEST_PRETEND_BLAS_DETECTED": "Prescott", "OPENBLAS_CORETYPE": ""], in: ws)
        #expect(r.status == 0, "\(r.stderr)")
        let first = r.stderrLines.first.map(String.init) ?? ""
        #expect(first.contains("kernels: OpenBLAS \(best.name) (chosen by Loom: OpenBLAS detected only the generic Prescott"), "\(first)")
        #expect(first.contains("Loom's own kernels \(KernelPath.best(for: .current).rawValue)"), "\(first)")
    }

    @Test func theUsersCoreTypeWinsAndAnUnknownOneIsNamed() throws {
        let ws = try Workspace("kernel-user", train: 8, test: 8)
        let r = try Self.kernelLine(["LOOM_TEST_PRETEND_BLAS_DETECTED": "Prescott", "OPENBLAS_CORETYPE": "Core2"], in: ws)
        #expect(r.stderrLines.first?.contains("kernels: OpenBLAS Core2 (OPENBLAS_CORETYPE=Core2, set by the user)") == true, "\(r.stderr)")
        let bogus = try Self.kernelLine(["OPENBLAS_CORETYPE": "NoSuchCore"], in: ws)
        #expect(bogus.stderrLines.first?.contains("OPENBLAS_CORETYPE=NoSuchCore is set but OpenBLAS does not know that core") == true,
                "\(bogus.stderr)")
    }

    @Test func aKernelPathTheCPULacksOrDoesNotKnowIsAClearError() throws {
        let ws = try Workspace("kernel-path-bad", train: 8, test: 8)
        let r = try Self.kernelLine(["LOOM_KERNEL_PATH": "neon"], in: ws)
        #expect(r.status == 2)
        #expect(r.stderr.contains("LOOM_KERNEL_PATH=neon is not a kernel path; use one of sse2, avx2, avx512"), "\(r.stderr)")
        let sse = try Self.kernelLine(["LOOM_KERNEL_PATH": "sse2"], in: ws)
        #expect(sse.status == 0 && sse.stderrLines.first?.contains("Loom's own kernels sse2 (LOOM_KERNEL_PATH=sse2") == true, "\(sse.stderr)")
    }

    /// A core type other than the one a plain `loom worker` runs here.
    static var otherCore: String {
        let env = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        let plain = BLASCoreChoice.upgrade(running: BLAS.coreName, cpu: .current, userValue: env)?.name ?? env ?? BLAS.coreName
        return plain.lowercased() == "prescott" ? "Core2" : "Prescott"
    }

    /// A coordinator waiting for 2 workers on loopback, its endpoint, and a plain worker
    /// admitted (which fixes the run's kernels).
    static func coordinatorWithOneWorker(_ ws: Workspace, _ more: [String]) throws -> (LoomChild, String, LoomChild) {
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        let coordinator = try ws.start(["coordinator", "--config", TrainSpec.smokeConfig] + spec.overrides.flatMap { ["--set", $0] }
                                       + ["--bind", "tcp://127.0.0.1:*", "--min-workers", "2"] + more, tag: "coordinator")
        #expect(coordinator.waitForLog("coordinator listening on "))
        let line = coordinator.stderr.split(separator: "\n").first { $0.contains("coordinator listening on ") } ?? ""
        let endpoint = String(line.split(separator: " ").first { $0.hasPrefix("tcp://") } ?? "")
        let first = try ws.start(["worker", "--connect", endpoint], tag: "worker-1")
        #expect(coordinator.waitForLog("the run's kernels: "))
        return (coordinator, endpoint, first)
    }

    @Test func aWorkerWithOtherKernelsIsRefusedWithAClearMessageOnBothSides() throws {
        let ws = try Workspace("kernel-refuse")
        let (coordinator, endpoint, first) = try Self.coordinatorWithOneWorker(ws, [])
        defer { first.signal(SIGKILL); coordinator.signal(SIGKILL) }
        let other = Self.otherCore
        let refused = try ws.loom(["worker", "--connect", endpoint], timeout: 60, environment: ["OPENBLAS_CORETYPE": other])
        #expect(refused.status != 0)
        #expect(refused.errorLine?.contains("refused this worker: the worker computes with OpenBLAS \(other)") == true, "\(refused.stderr)")
        #expect(refused.stderr.contains("start the worker with OPENBLAS_CORETYPE="), "\(refused.stderr)")
        #expect(coordinator.waitForLog("refusing worker "))
        #expect(coordinator.stderr.contains("--allow-mixed-kernels"))
    }

    @Test func allowMixedKernelsAdmitsItWithAWarningAndTheCheckpointRecordsTheRunsKernels() throws {
        let ws = try Workspace("kernel-mixed")
        let (coordinator, endpoint, first) = try Self.coordinatorWithOneWorker(ws, ["--allow-mixed-kernels"])
        defer { first.signal(SIGKILL); coordinator.signal(SIGKILL) }
        let other = Self.otherCore
        let second = try ws.start(["worker", "--connect", endpoint], tag: "worker-2", environment: ["OPENBLAS_CORETYPE": other])
        defer { second.signal(SIGKILL) }
        let done = coordinator.wait(timeout: 120)
        #expect(done.status == 0, "\(done.stderr.suffix(2000))")
        #expect(done.stderr.contains("admitting worker") && done.stderr.contains("it computes with OpenBLAS \(other)"))
        let runCore = done.stderr.split(separator: "\n").first { $0.contains("the run's kernels: OpenBLAS ") }
            .flatMap { $0.components(separatedBy: "the run's kernels: OpenBLAS ").last?.split(separator: ",").first }
        let inspect = try ws.loom(["inspect", ws.path("run/latest.h5")])
        #expect(inspect.status == 0)
        #expect(runCore != nil && inspect.stdout.contains("kernels     OpenBLAS \(runCore ?? "?"), Loom "), "\(inspect.stdout)")
    }
}
