// Running the real `loom` binary: to completion (with a time limit), or in the background
// so a test can signal it. Output goes to files, never pipes, so a chatty child can never
// block on a full pipe while the test waits for it.

import Foundation
import LoomTestSupport
import Testing

/// What a finished `loom` invocation left behind.
struct LoomResult {
    var status: Int32
    /// True when the process ended by a signal (status is then the signal number).
    var signalled: Bool
    var stdout: String
    var stderr: String

    /// The stderr lines that are not empty.
    var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: true) }

    /// The line starting with `error:`, if any (the CLI's one-line failure report).
    var errorLine: String? { stderrLines.first { $0.hasPrefix("error:") }.map(String.init) }
}

/// A `loom` process started in the background.
final class LoomChild {
    let process: Process
    let stdoutURL: URL
    let stderrURL: URL
    var pid: Int32 { process.processIdentifier }

    init(process: Process, stdoutURL: URL, stderrURL: URL) {
        self.process = process
        self.stdoutURL = stdoutURL
        self.stderrURL = stderrURL
    }

    var isRunning: Bool { process.isRunning }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }

    func signal(_ sig: Int32) { if process.isRunning { kill(pid, sig) } }

    /// Polls stderr until it contains `text` (true), the process ends or `timeout` s pass (false).
    func waitForLog(_ text: String, timeout: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stderr.contains(text) { return true }
            if !process.isRunning { return stderr.contains(text) }
            Thread.sleep(forTimeInterval: 0.003)
        }
        return false
    }

    /// Waits for the process to end; after `timeout` s it is SIGKILLed and an issue recorded.
    @discardableResult
    func wait(timeout: Double = 120, sourceLocation: SourceLocation = #_sourceLocation) -> LoomResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning {
            Issue.record("loom \(process.arguments?.joined(separator: " ") ?? "") still running after \(timeout) s; killed",
                         sourceLocation: sourceLocation)
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
        return LoomResult(status: process.terminationStatus,
                          signalled: process.terminationReason == .uncaughtSignal,
                          stdout: stdout, stderr: stderr)
    }
}

/// Starts and runs `loom` in a working directory.
enum Loom {
    /// The environment of every child: no progress bar, no colour games.
    static var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["LOOM_NO_PROGRESS"] = "1"
        return env
    }

    /// Starts `loom args` in `directory`; stdout and stderr go to `<directory>/<tag>.out|.err`
    /// (appended, so restarts of one run share a log). `environment` is added to the usual.
    static func start(_ arguments: [String], in directory: URL, tag: String = "loom",
                      environment extra: [String: String] = [:], executable: URL = TestPaths.loomExecutable) throws -> LoomChild {
        let out = directory.appendingPathComponent("\(tag).out")
        let err = directory.appendingPathComponent("\(tag).err")
        for url in [out, err] where !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.currentDirectoryURL = directory
        p.environment = environment.merging(extra) { $1 }
        p.standardInput = FileHandle.nullDevice
        let outHandle = try FileHandle(forWritingTo: out)
        let errHandle = try FileHandle(forWritingTo: err)
        outHandle.seekToEndOfFile()
        errHandle.seekToEndOfFile()
        p.standardOutput = outHandle
        p.standardError = errHandle
        try p.run()
        try? outHandle.close()
        try? errHandle.close()
        return LoomChild(process: p, stdoutURL: out, stderrURL: err)
    }

    /// Runs `loom args` in `directory` to completion; the result holds only this run's output.
    static func run(_ arguments: [String], in directory: URL, timeout: Double = 120,
                    environment extra: [String: String] = [:], executable: URL = TestPaths.loomExecutable,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> LoomResult {
        let tag = "run-\(UUID().uuidString.prefix(8))"
        let child = try start(arguments, in: directory, tag: tag, environment: extra, executable: executable)
        let result = child.wait(timeout: timeout, sourceLocation: sourceLocation)
        try? FileManager.default.removeItem(at: child.stdoutURL)
        try? FileManager.default.removeItem(at: child.stderrURL)
        return result
    }
}
