// A checkpoint that cannot be written because the disk is full: one clear line, exit 1, the
// earlier checkpoints intact, no temporary file left, and no crash (libhdf5's exit-time
// cleanup used to segfault on the half-closed file: exit 139). The disk is a small tmpfs,
// which only root can mount: elsewhere the test says it is skipped.

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
        let left = try FileManager.default.contentsOfDirectory(atPath: spec.runDirectory)
        #expect(!left.contains { $0.contains(".tmp-") }, "a temporary file was left: \(left)")
        let checkpoints = left.filter { $0.hasPrefix("ckpt-") }
        #expect(!checkpoints.isEmpty)
        let inspect = try ws.loom(["inspect", spec.latest])
        #expect(inspect.status == 0, "\(inspect.stderr)")
    }
}
