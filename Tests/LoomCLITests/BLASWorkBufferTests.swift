// A training process has OpenBLAS's work buffer written before its first step (why:
// BLAS.faultInWorkBuffer). Checked on real processes, barrier children of `loom bench`,
// which set up BLAS as a worker does, from /proc/PID/smaps while they wait between steps.
//
// How much of the buffer a GEMM writes depends on OpenBLAS's blocking, which differs
// between core types and releases (1.3 MB for the warm-up on Zen, under 400 KB on an
// AVX-512 Xeon), so no absolute size is asserted. What holds on every blocking: a model
// whose own GEMMs are tiny writes a few kilobytes of the buffer, and the warm-up's 768³
// sgemm packs at least one K-block of its 768-column B panel (K ≥ 128 floats on every x86
// core type: at least 384 KB), so a warm process has at least 256 KB more of the buffer
// resident than a cold one (LOOM_BLAS_WARMUP=0).

import Foundation
import LoomTestSupport
import Testing

@Suite struct BLASWorkBufferTests {
    /// A model whose GEMMs pack a few kilobytes: 28x28 → 4 → 10.
    static let tinyModel = """
    input: [1, 28, 28]
    layers:
      - {kind: flatten}
      - {kind: linear, name: l1, out: 4}
    heads:
      - {name: category, kind: softmax, classes: 10, layer: l2}
    """

    /// OpenBLAS's buffer in a barrier child after one step: (resident KB, KB on huge pages).
    static func bufferAfterOneStep(model: String, warmUp: Bool) throws -> (residentKB: Int, hugeKB: Int) {
        let child = try BenchBreakdownTests.startBarrierChild(part: 0, parts: 1, model: model,
                                                               environment: warmUp ? [:] : ["LOOM_BLAS_WARMUP": "0"])
        defer {
            try? child.toChild.write(contentsOf: [0])
            child.process.waitUntilExit()
        }
        // One step done: the child has written its byte and waits for ours.
        let first = try child.fromChild.read(upToCount: 1)
        try #require(first == Data([1]), "the barrier child did not finish a step")
        // Read to the end: /proc files report size 0, and a read sized by that stops early.
        let file = try #require(FileHandle(forReadingAtPath: "/proc/\(child.process.processIdentifier)/smaps"))
        let smaps = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
        // OpenBLAS's buffer is the largest writable anonymous mapping (tens to hundreds of MB;
        // malloc's arenas reserve theirs without access rights).
        let buffer = try #require(Self.anonymousMappings(smaps).max { $0.sizeKB < $1.sizeKB })
        #expect(buffer.sizeKB >= 16 * 1024, "no mapping the size of OpenBLAS's work buffer: largest writable anonymous one \(buffer)")
        return (buffer.residentKB, buffer.hugeKB)
    }

    @Test func aTrainingProcessHasOpenBLASsWorkBufferFaultedIn() throws {
        let ws = try Workspace("blas-buffer", train: 8, test: 8)
        let model = try ws.write("tiny.yaml", Self.tinyModel)
        let warm = try Self.bufferAfterOneStep(model: model, warmUp: true)
        let cold = try Self.bufferAfterOneStep(model: model, warmUp: false)
        if warm.hugeKB > 0 || cold.hugeKB > 0 {
            // Transparent huge pages back the buffer: a 2 MB page is resident from the first
            // write, so there is no never-written small page for a prefetch to stall on.
            #expect(warm.residentKB >= cold.residentKB)
            return
        }
        #expect(warm.residentKB >= cold.residentKB + 256,
                "with the warm-up \(warm.residentKB) KB of OpenBLAS's buffer is resident, without it \(cold.residentKB) KB")
    }

    /// Size, resident size and huge-page size (KB) of every private writable anonymous mapping.
    static func anonymousMappings(_ smaps: String) -> [(sizeKB: Int, residentKB: Int, hugeKB: Int)] {
        var mappings: [(sizeKB: Int, residentKB: Int, hugeKB: Int)] = []
        var anonymous = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                // "start-end perms offset dev inode [path]": no path is an anonymous mapping.
                anonymous = fields.count == 5 && fields[1] == "rw-p"
                if anonymous { mappings.append((0, 0, 0)) }
            } else if anonymous, fields.count >= 2, let kb = Int(fields[1]) {
                if first == "Size:" { mappings[mappings.count - 1].sizeKB = kb }
                if first == "Rss:" { mappings[mappings.count - 1].residentKB = kb }
                if first == "AnonHugePages:" { mappings[mappings.count - 1].hugeKB = kb }
            }
        }
        return mappings
    }
}
