// A training process has OpenBLAS's work buffer written before its first step (why:
// BLAS.faultInWorkBuffer). Checked on a real process, the barrier child of `loom bench`,
// which sets up BLAS as a worker does, from /proc/PID/smaps while it waits between steps.

import Foundation
import LoomTestSupport
import Testing

@Suite struct BLASWorkBufferTests {
    @Test func aTrainingProcessHasOpenBLASsWorkBufferFaultedIn() throws {
        let child = try BenchBreakdownTests.startBarrierChild(part: 0, parts: 1)
        defer {
            try? child.toChild.write(contentsOf: [0])
            child.process.waitUntilExit()
        }
        // One step done: the child has written its byte and waits for ours.
        let first = try child.fromChild.read(upToCount: 1)
        try #require(first == Data([1]), "the barrier child did not finish a step")

        // OpenBLAS's buffer is the process's largest anonymous mapping (256 MB here). The MLP's
        // own GEMMs write 328 KB of it; the warm-up's 768³ sgemm 1.3 MB on Zen, and on any
        // x86 blocking more than 768 KB (its packed B panel alone is Q x 768 floats).
        // Read to the end: /proc files report size 0, and a read sized by that stops early.
        let file = try #require(FileHandle(forReadingAtPath: "/proc/\(child.process.processIdentifier)/smaps"))
        let smaps = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
        let buffer = try #require(Self.anonymousMappings(smaps).max { $0.sizeKB < $1.sizeKB })
        #expect(buffer.sizeKB >= 32 * 1024, "no mapping the size of OpenBLAS's work buffer: largest anonymous one \(buffer)")
        #expect(buffer.residentKB >= 768, "OpenBLAS's work buffer has only \(buffer.residentKB) KB resident of \(buffer.sizeKB) KB")
    }

    /// Size and resident size (KB) of every private anonymous mapping in an smaps listing.
    static func anonymousMappings(_ smaps: String) -> [(sizeKB: Int, residentKB: Int)] {
        var mappings: [(sizeKB: Int, residentKB: Int)] = []
        var anonymous = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                // "start-end perms offset dev inode [path]": no path is an anonymous mapping.
                anonymous = fields.count == 5 && fields[1].hasSuffix("p")
                if anonymous { mappings.append((0, 0)) }
            } else if anonymous, fields.count >= 2, let kb = Int(fields[1]) {
                if first == "Size:" { mappings[mappings.count - 1].sizeKB = kb }
                if first == "Rss:" { mappings[mappings.count - 1].residentKB = kb }
            }
        }
        return mappings
    }
}
