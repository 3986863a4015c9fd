// Choosing the kernels of this process, before anything computes. OpenBLAS reads
// OPENBLAS_CORETYPE once, when it loads, so a better core than the one it detected can
// only be had by executing this program again with the variable set: `start` does that,
// first thing in main, and records the choice for the first log line of every command
// that computes (`GlobalOptions.prepareKernels`). The user's OPENBLAS_CORETYPE always wins.
// Loom's own kernels take the widest path the CPU has, or LOOM_KERNEL_PATH.
import Foundation
import Logging
import LoomKernels

enum KernelSetup {
    /// Set by Loom next to OPENBLAS_CORETYPE when it re-executes: "CORE:DETECTED", telling
    /// the new process (and the workers it starts) that the core was Loom's choice.
    static let chosenVariable = "LOOM_BLAS_CHOSEN"
    /// For tests of the re-execution on hosts whose OpenBLAS knows the CPU: act as if
    /// OpenBLAS had detected this core.
    static let pretendDetectedVariable = "LOOM_TEST_PRETEND_BLAS_DETECTED"
    /// sse2, avx2 or avx512: run Loom's own kernels on this path instead of the widest.
    static let pathVariable = "LOOM_KERNEL_PATH"

    /// How this process's BLAS core came about (set by `start`).
    nonisolated(unsafe) private(set) static var choice: BLASCoreChoice = .detected(core: BLAS.coreName)
    /// Why the kernel path is what it is (set by `start`).
    nonisolated(unsafe) private(set) static var pathReason = "the widest this CPU runs"

    /// Re-executes the process with a better OPENBLAS_CORETYPE when OpenBLAS detected a
    /// generic core on a CPU with better instructions (does not return then), and selects
    /// the path of Loom's own kernels. Exits with status 2 on a LOOM_KERNEL_PATH this CPU
    /// cannot run.
    static func start() {
        let environment = ProcessInfo.processInfo.environment
        let cpu = CPUInfo.current
        let userValue = environment["OPENBLAS_CORETYPE"].flatMap { $0.isEmpty ? nil : $0 }
        let detected = environment[pretendDetectedVariable].flatMap { $0.isEmpty ? nil : $0 } ?? BLAS.coreName
        if let better = BLASCoreChoice.upgrade(running: detected, cpu: cpu, userValue: userValue) {
            setenv("OPENBLAS_CORETYPE", better.name, 1)
            setenv(chosenVariable, "\(better.name):\(detected)", 1)
            unsetenv(pretendDetectedVariable)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            // Only reached when exec failed: keep the kernels that run, and say so.
            let failure = String(cString: strerror(errno))
            unsetenv("OPENBLAS_CORETYPE")
            unsetenv(chosenVariable)
            StandardError.write("loom: could not re-execute with OPENBLAS_CORETYPE=\(better.name) (\(failure)); running OpenBLAS's \(BLAS.coreName) kernels\n")
        }
        choice = currentChoice(environment: ProcessInfo.processInfo.environment, cpu: cpu)
        selectPath(environment[pathVariable], cpu: cpu)
    }

    /// The choice as this process's environment and OpenBLAS tell it.
    private static func currentChoice(environment: [String: String], cpu: CPUInfo) -> BLASCoreChoice {
        let running = BLAS.coreName
        guard let requested = environment["OPENBLAS_CORETYPE"], !requested.isEmpty else { return .detected(core: running) }
        if let marker = environment[chosenVariable], let colon = marker.firstIndex(of: ":"),
           marker[..<colon].lowercased() == requested.lowercased(), let core = BLASCoreType.named(requested) {
            return .chosenByLoom(core: running, detected: String(marker[marker.index(after: colon)...]),
                                 because: BLASCoreChoice.reason(for: core, on: cpu))
        }
        return .userSet(requested: requested, core: running)
    }

    private static func selectPath(_ requested: String?, cpu: CPUInfo) {
        // Without it, the kernels already run the widest path (chosen when CKernels loads).
        guard let requested, !requested.isEmpty else { return }
        guard let path = KernelPath(rawValue: requested.lowercased()) else {
            StandardError.write("loom: \(pathVariable)=\(requested) is not a kernel path; use one of \(KernelPath.allCases.map(\.rawValue).joined(separator: ", "))\n")
            exit(2)
        }
        do {
            try KernelPath.use(path, cpu: cpu)
            pathReason = "\(pathVariable)=\(requested)"
        } catch {
            StandardError.write("loom: \(pathVariable)=\(requested): \(error)\n")
            exit(2)
        }
    }

    /// The first log line of a process that computes: which kernels run, and why.
    static var summary: String {
        "kernels: OpenBLAS \(choice.explanation); Loom's own kernels \(KernelPath.current.rawValue) (\(pathReason); CPU has \(CPUInfo.current.features.names.joined(separator: " ")))"
    }
}

extension GlobalOptions {
    /// What every command that computes does first: OpenBLAS on one thread (with its work
    /// buffer faulted in), and the kernel line in the log.
    func prepareKernels(_ logger: Logger, level: Logger.Level = .info) {
        // LOOM_BLAS_WARMUP=0 skips the work buffer's warm-up: for measuring it, never needed.
        BLAS.useSingleThread(warmUp: ProcessInfo.processInfo.environment["LOOM_BLAS_WARMUP"] != "0")
        logger.log(level: level, "\(KernelSetup.summary)")
    }
}
