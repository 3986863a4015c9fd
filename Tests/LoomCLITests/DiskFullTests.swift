// A checkpoint that cannot be written because the disk is full: one clear line, exit 1, the
// earlier checkpoints intact, no temporary file left, and no crash (libhdf5's exit-time
// cleanup used to segfault on the half-closed file: exit 139). Up to
// `checkpoint.max_consecutive_failures` failed checkpoints in a row the run goes on, and
// once space is freed the next checkpoint is written, bitwise that of an undisturbed run.
// The disk is a small tmpfs, which only root can mount: elsewhere the tests say they are
// skipped.

import Foundation
import LoomTestSupport
import Testing

@Suite struct DiskFullTests {
    static var canMount: Bool { geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount") }

    /// Runs `command` with `arguments`; its exit status.
    @discardableResult
    static func run(_ command: String, _ arguments: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: command)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test(.enabled(if: canMount, "mounting a tmpfs needs root"), arguments: [0, 2])
    func aFullDiskStopsTheRunWithOneLineAndKeepsTheEarlierCheckpoints(workers: Int) throws {
        let ws = try Workspace("disk-full-\(workers)")
        let disk = ws.path("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        // The MLP's checkpoints are about 2.8 MB: two fit, the third does not.
        try #require(try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=7m", "tmpfs", disk]) == 0, "mount tmpfs on \(disk)")
        defer { try? Self.run("/bin/umount", ["-l", disk]) }
        var spec = TrainSpec(workspace: ws, run: "disk/run", everySteps: 4, keep: 5)
        spec.runDirectory = disk + "/run"
        let r = try ws.loom(spec.arguments(["--workers", "\(workers)"]), timeout: 120)
        #expect(!r.signalled && r.status == 1, "status \(r.status), signalled \(r.signalled): \(r.stderr.suffix(1500))")
        #expect(r.errorLine?.contains("failed, training stopped (the previous checkpoints are intact)") == true, "\(r.stderr.suffix(1500))")
        #expect(r.stderr.contains("No space left on device"))
        // One line: libhdf5's message (a ctime with its newline, buffer addresses) cut to its cause.
        #expect(r.errorLine?.contains("file write failed: No space left on device") == true, "\(r.stderr.suffix(1500))")
        let left = try FileManager.default.contentsOfDirectory(atPath: spec.runDirectory)
        #expect(!left.contains { $0.contains(".tmp-") }, "a temporary file was left: \(left)")
        let checkpoints = left.filter { $0.hasPrefix("ckpt-") }
        #expect(!checkpoints.isEmpty)
        let inspect = try ws.loom(["inspect", spec.latest])
        #expect(inspect.status == 0, "\(inspect.stderr)")
    }

    /// Bytes free on the file system holding `path`.
    static func freeBytes(_ path: String) throws -> Int {
        let a = try FileManager.default.attributesOfFileSystem(forPath: path)
        return (a[.systemFreeSize] as? NSNumber)?.intValue ?? 0
    }

    @Test(.enabled(if: canMount, "mounting a tmpfs needs root"))
    func checkpointsFailWhileTheDiskIsFullAndResumeOnceSpaceIsFreed() throws {
        let ws = try Workspace("disk-freed")
        let disk = ws.path("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        try #require(try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=7m", "tmpfs", disk]) == 0, "mount tmpfs on \(disk)")
        defer { try? Self.run("/bin/umount", ["-l", disk]) }
        // Leave 1 MB: a checkpoint of the MLP (about 2.8 MB) does not fit until the filler goes.
        let filler = disk + "/filler"
        let fillerSize = try Self.freeBytes(disk) - (1 << 20)
        try #require(FileManager.default.createFile(atPath: filler, contents: Data(count: fillerSize)))
        // A long run (stopped below); keep 1, so that two checkpoints fit once space is freed.
        var spec = TrainSpec(workspace: ws, run: "unused", everySteps: 2, keep: 1)
        spec.runDirectory = disk + "/run"
        spec.epochs = 1000
        spec.extra = ["checkpoint.max_consecutive_failures=100000"]
        let child = try ws.start(spec.arguments(), tag: "train")
        defer { child.signal(SIGKILL) }

        // Stopped (SIGSTOP) as soon as a checkpoint has failed: free the space, go on.
        let failed = stepUntil(child, timeout: 60) { child.stderr.contains("training goes on and the next checkpoint tries again") }
        try #require(failed, "no checkpoint failed: \(child.stderr.suffix(1500))")
        try FileManager.default.removeItem(atPath: filler)
        child.signal(SIGCONT)
        #expect(child.waitForLog("checkpoints are written again", timeout: 60), "\(child.stderr.suffix(1500))")
        child.signal(SIGTERM)
        let r = child.wait(timeout: 60)
        #expect(r.status == 0 && !r.signalled, "status \(r.status): \(r.stderr.suffix(1500))")
        #expect(r.stderr.contains("No space left on device"), "\(r.stderr.suffix(1500))")
        #expect(RunFiles.temporaryFiles(in: spec.runDirectory).isEmpty)
        let stopped = try #require(try RunFiles.step(of: spec.latest))
        let failedSteps = lines(of: r.stderr, containing: "training goes on").compactMap { number(after: "checkpoint at step ", in: String($0)) }
        #expect(!failedSteps.isEmpty && failedSteps.allSatisfy { $0 < stopped })

        // The checkpoint after the failures is that of a run that never met a full disk...
        var reference = spec
        reference.runDirectory = ws.path("reference")
        reference.extra = ["training.max_steps=\(stopped)"]
        let ref = try ws.loom(reference.arguments())
        #expect(ref.status == 0, "\(ref.stderr.suffix(1500))")
        let same = try ws.loom(["diff", reference.latest, spec.latest])
        #expect(same.status == 0, "\(same.stdout)")
        // ... with the same history in metrics.csv (rewritten if rows were missed) ...
        #expect(try MetricsTable(file: spec.metricsCSV).withoutTimings == MetricsTable(file: reference.metricsCSV).withoutTimings)
        // ... and a run resumed from it ends where an undisturbed run ends.
        spec.extra.append("training.max_steps=\(stopped + 4)")
        let resumed = try ws.loom(spec.arguments(["--resume", "auto"]))
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(1500))")
        var longer = reference
        longer.runDirectory = ws.path("reference-longer")
        longer.extra = ["training.max_steps=\(stopped + 4)"]
        #expect(try ws.loom(longer.arguments()).status == 0)
        let end = try ws.loom(["diff", longer.latest, spec.latest])
        #expect(end.status == 0, "\(end.stdout)")
    }
}
