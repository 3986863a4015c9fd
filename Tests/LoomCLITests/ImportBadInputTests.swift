// Bad rows of a photo manifest, one real broken file or field each: without --skip-bad the
// import stops with one line naming the manifest row and writes nothing; with --skip-bad
// it imports the good rows and lists the bad ones.

import Foundation
import LoomData
import LoomTestSupport
import Testing

@Suite struct ImportBadInputTests {
    /// Each case: the manifest line it adds (after the good rows), the files it needs, and
    /// words the error must contain.
    struct Case: CustomStringConvertible {
        var name: String
        var row: String
        var make: (Workspace) throws -> Void = { _ in }
        var words: [String]
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "missing file", row: "photos/nothere.jpg,,,,,red", words: ["nothere.jpg", "file not found"]),
        Case(name: "truncated JPEG", row: "photos/cut.jpg,,,,,red",
             make: { try PhotoFiles.writeTruncatedJPEG($0.path("photos/cut.jpg")) }, words: ["cut.jpg", "truncated JPEG"]),
        Case(name: "corrupt JPEG", row: "photos/bad.jpg,,,,,red",
             make: { try PhotoFiles.writeCorruptJPEG($0.path("photos/bad.jpg")) }, words: ["bad.jpg", "corrupt JPEG"]),
        Case(name: "not an image", row: "photos/notes.jpg,,,,,red",
             make: { try $0.write("photos/notes.jpg", "these are my notes\n") }, words: ["notes.jpg", "not a JPEG or PNG"]),
        Case(name: "box outside", row: "photos/g0.jpg,100,100,120,120,red", words: ["g0.jpg", "outside the 24x24 image"]),
        Case(name: "empty box", row: "photos/g0.jpg,10,10,10,20,red", words: ["g0.jpg", "is empty"]),
        Case(name: "unknown class", row: "photos/g1.jpg,,,,,mauve", words: ["colour", "mauve", "not one of the classes"]),
        Case(name: "duplicate path", row: "photos/g2.jpg,,,,,red", words: ["g2.jpg", "already appears on line 4"]),
        Case(name: "column count", row: "photos/g3.jpg,,,,red", words: ["5 fields", "the header has 6"]),
    ]

    /// A workspace with 4 good 24x24 JPEGs and a manifest of them plus `extra` rows.
    func workspace(_ tag: String, extra: [String], make: [(Workspace) throws -> Void]) throws -> Workspace {
        let ws = try Workspace("bad-\(tag)", train: 8, test: 8)
        var lines = ["path,x1,y1,x2,y2,colour"]
        for i in 0..<4 {
            try PhotoFiles.writeJPEG(ws.path("photos/g\(i).jpg"), pixels: PhotoFiles.solid(width: 24, height: 24, (200, 20, 20)),
                                     width: 24, height: 24)
            lines.append("photos/g\(i).jpg,,,,,red")
        }
        for m in make { try m(ws) }
        try ws.write("classes.yaml", "colour: [red, green]\n")
        try ws.write("m.csv", (lines + extra).joined(separator: "\n") + "\n")
        return ws
    }

    @Test(arguments: cases) func badRowStopsTheImportNamingTheRow(c: Case) throws {
        let ws = try workspace(c.name.replacingOccurrences(of: " ", with: "-"), extra: [c.row], make: [c.make])
        let out = ws.path("out/x.h5")
        let r = try ws.loom(["import", "images", "--manifest", ws.path("m.csv"), "--classes", ws.path("classes.yaml"),
                             "--size", "8", "--out", out])
        #expect(r.status != 0)
        let error = r.errorLine ?? ""
        #expect(error.contains("m.csv:6:"), "the row's line: \(r.stderr)")
        for w in c.words { #expect(error.contains(w), "'\(w)' in: \(error)") }
        #expect(!FileManager.default.fileExists(atPath: out))
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: ws.path("out"))) ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test func nonUTF8RowIsNamed() throws {
        let ws = try workspace("utf8", extra: [], make: [])
        var bytes = Array((try String(contentsOfFile: ws.path("m.csv"), encoding: .utf8)).utf8)
        bytes += Array("photos/caf".utf8) + [0xE9] + Array(".jpg,,,,,red\n".utf8)   // Latin-1 e-acute
        try Data(bytes).write(to: URL(fileURLWithPath: ws.path("m.csv")))
        let r = try ws.loom(["import", "images", "--manifest", ws.path("m.csv"), "--size", "8", "--out", ws.path("x.h5")])
        #expect(r.status != 0)
        #expect((r.errorLine ?? "").contains("m.csv:6: not valid UTF-8"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("x.h5")))
    }

    @Test func skipBadImportsTheGoodRowsAndListsTheBadOnes() throws {
        let ws = try workspace("skip", extra: Self.cases.map(\.row), make: Self.cases.map(\.make))
        let out = ws.path("x.h5")
        let r = try ws.loom(["import", "images", "--manifest", ws.path("m.csv"), "--classes", ws.path("classes.yaml"),
                             "--size", "8", "--split", "1,0,0", "--skip-bad", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("skipped \(Self.cases.count) bad rows"), "\(r.stdout)")
        #expect(r.stdout.contains("m.csv:6: photos/nothere.jpg: file not found"), "the first few are listed: \(r.stdout)")
        let ds = try Dataset(path: out)
        #expect(try ds.split("train").count == 4)
        #expect(try ds.computeFingerprint() == ds.fingerprint)
    }
}
