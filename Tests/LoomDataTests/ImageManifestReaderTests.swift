// Reading CSV manifests (no image is opened: rows, attributes and splits only).

import Foundation
import LoomData
import LoomImage
import Testing

@Suite struct ImageManifestReaderTests {
    func manifest(_ text: String, bytes: [UInt8]? = nil, options: (inout ImageManifestOptions) -> Void = { _ in }) throws -> PhotoManifest {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.csv").path
        try Data(bytes ?? Array(text.utf8)).write(to: URL(fileURLWithPath: path))
        var o = ImageManifestOptions(root: "/data")
        options(&o)
        return try ImageManifestReader.read(path: path, options: o)
    }

    @Test func quotedFieldsBOMAndCRLF() throws {
        let text = "\u{FEFF}path,split,colour\r\n\"a, b.jpg\",train,\"dark \"\"navy\"\"\"\r\n\"multi\nline.jpg\",test,red\r\n"
        let m = try manifest(text)
        #expect(m.rejected.isEmpty)
        #expect(m.rows.map(\.name) == ["a, b.jpg", "multi\nline.jpg"])
        #expect(m.rows.map(\.line) == [2, 3])
        #expect(m.rows[0].path == "/data/a, b.jpg")
        #expect(m.attributes[0].info.classNames == ["dark \"navy\"", "red"])
    }

    @Test func emptyAndMinusOneAreUnlabelledAndZeroOneIsBinary() throws {
        let m = try manifest("path,split,colour,hat\na.jpg,train,red,1\nb.jpg,train,,0\nc.jpg,val,-1,-1\nd.jpg,test,blue,\n")
        #expect(m.attributes.map(\.info) == [AttributeInfo(name: "colour", kind: .softmax, classNames: ["blue", "red"]),
                                             AttributeInfo(name: "hat", kind: .binary, classNames: ["0", "1"])])
        #expect(m.rows.map(\.labels) == [[1, 1], [-1, 0], [-1, -1], [0, -1]])
        #expect(m.rows.map(\.split) == ["train", "train", "validation", "test"])
    }

    @Test func rowErrorsAreSetAsideWithTheirLines() throws {
        let m = try manifest("path,x1,y1,x2,y2,split,colour\na.jpg,1,2,30,40,train,red\nb.jpg,1,2,x,40,train,red\nc.jpg,,,,,nowhere,red\na.jpg,1,2,30,40,test,red\na.jpg,,,,,test,red\nd.jpg,5,5,5,9,train,red\n")
        #expect(m.rows.map(\.name) == ["a.jpg", "a.jpg"], "the same image without a box is another sample")
        #expect(m.rows[0].box == CropBox(x1: 1, y1: 2, x2: 30, y2: 40) && m.rows[1].box == nil)
        #expect(m.rejected.map { $0.line ?? 0 } == [3, 4, 5, 7])
        #expect("\(m.rejected[2])".hasSuffix("m.csv:5: a.jpg (with the same box) already appears on line 2"))
        #expect("\(m.rejected[3])".contains("is empty"))
    }

    @Test func classesFileKeepsYesAndNoAsNames() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-classes-\(UUID().uuidString).yaml")
        try "hat: [no, yes]\ncolour: [red, 0]\n".write(to: dir, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: dir) }
        let classes = try ImageManifestReader.loadClasses(path: dir.path)
        #expect(classes == ["hat": ["no", "yes"], "colour": ["red", "0"]])
        let m = try manifest("path,split,hat\na.jpg,train,yes\nb.jpg,train,maybe\n") { $0.classes = ["hat": ["no", "yes"]] }
        #expect(m.rows.map(\.labels) == [[1]])
        #expect("\(m.rejected[0])".contains("hat 'maybe' is not one of the classes given (no, yes)"))
    }

    @Test func seededSplitHasTheProportionsAndDependsOnTheSeed() throws {
        let a = PhotoManifest.seededSplit(count: 1000, fractions: [0.8, 0.1, 0.1], seed: 7)
        #expect(a.filter { $0 == "train" }.count == 800 && a.filter { $0 == "validation" }.count == 100)
        #expect(a == PhotoManifest.seededSplit(count: 1000, fractions: [0.8, 0.1, 0.1], seed: 7))
        #expect(a != PhotoManifest.seededSplit(count: 1000, fractions: [0.8, 0.1, 0.1], seed: 8))
        #expect(throws: ManifestError.self) { try PhotoManifest.parseFractions("0.8,0.3,0.1") }
        #expect(throws: ManifestError.self) { try PhotoManifest.parseFractions("0.8,0.2") }
        #expect(try PhotoManifest.parseFractions(" 0.5, 0.25,0.25") == [0.5, 0.25, 0.25])
    }

    @Test func fileLevelProblemsThrow() throws {
        #expect(throws: ManifestError.self) { try manifest("name,colour\na.jpg,red\n") }            // no path column
        #expect(throws: ManifestError.self) { try manifest("path,x1,y1,colour\na.jpg,1,2,red\n") }   // half a box
        #expect(throws: ManifestError.self) { try manifest("path,colour,colour\na.jpg,red,red\n") }  // a column twice
        #expect(throws: ManifestError.self) { try manifest("path,colour\na.jpg,\n") }                // nothing labelled
        #expect(throws: ManifestError.self) {   // a header that is not UTF-8
            try manifest("", bytes: Array("pa".utf8) + [0xFF] + Array("th,colour\n".utf8))
        }
    }
}
