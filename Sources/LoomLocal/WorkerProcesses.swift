// Local `loom worker` subprocesses: for `loom train --workers N`, the cluster benchmark and
// the integration tests. Every child is killed when the group is terminated or released.

import Foundation
import LoomCluster

/// A set of `loom worker` child processes connected to one endpoint.
public final class WorkerProcesses {
    public let executable: String
    public let endpoint: String
    /// Arguments added after `worker --connect EP` (e.g. `--no-local-data`, `--keys DIR`).
    public let extraArguments: [String]
    /// Where the children's stderr (their log) goes; nil = inherited.
    public let logFile: String?
    /// With `start(count:)`: give worker i its own CPU (`--cpu`) when this process may run
    /// on at least `count` of them (`CPUAffinity.localWorkerCPU`).
    public let pinning: Bool
    public private(set) var processes: [Process] = []

    public init(executable: String, endpoint: String, extraArguments: [String] = [], logFile: String? = nil,
                pinning: Bool = false) {
        self.executable = executable
        self.endpoint = endpoint
        self.extraArguments = extraArguments
        self.logFile = logFile
        self.pinning = pinning
    }

    deinit { terminateAll(wait: false) }

    /// Starts one more worker; returns its index in `processes`.
    @discardableResult
    public func start(arguments: [String] = []) throws(ClusterError) -> Int {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["worker", "--connect", endpoint] + extraArguments + arguments
        // One OpenBLAS thread from the start (the worker also calls openblas_set_num_threads(1)):
        // no idle BLAS thread pool competing with the other workers for the cores.
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"
        p.environment = environment
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        if let logFile {
            if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
            if let handle = FileHandle(forWritingAtPath: logFile) {
                handle.seekToEndOfFile()
                p.standardError = handle
            }
        }
        do { try p.run() } catch {
            throw .process("cannot start \(executable) worker --connect \(endpoint): \(error)")
        }
        processes.append(p)
        return processes.count - 1
    }

    /// Starts `count` workers, each on its own CPU when `pinning` and there are enough.
    /// Returns the CPUs given (empty when unpinned).
    @discardableResult
    public func start(count: Int) throws(ClusterError) -> [Int] {
        let allowed = pinning ? CPUAffinity.allowedCPUs() : []
        var cpus: [Int] = []
        for i in 0..<count {
            if let cpu = CPUAffinity.localWorkerCPU(index: i, count: count, allowed: allowed) {
                cpus.append(cpu)
                try start(arguments: ["--cpu", "\(cpu)"])
            } else {
                try start()
            }
        }
        return cpus
    }

    /// SIGKILLs worker `index` (a crash, for tests) and reaps it.
    public func kill(_ index: Int) {
        let p = processes[index]
        if p.isRunning { Foundation.kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    /// SIGTERM to every running worker, then (with `wait`) up to 5 s for them to exit
    /// before SIGKILL: no orphan survives.
    public func terminateAll(wait: Bool = true) {
        Self.terminate(processes, wait: wait)
    }

    /// SIGTERM to every one of `processes` still running, then (with `wait`) up to 5 s for
    /// them to exit before SIGKILL.
    public static func terminate(_ processes: [Process], wait: Bool = true) {
        for p in processes where p.isRunning { p.terminate() }
        guard wait else { return }
        let deadline = Date().addingTimeInterval(5)
        for p in processes {
            while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if p.isRunning { Foundation.kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        }
    }
}
