// `loom import images` end to end: real JPEG and PNG files written by the test, a CSV
// manifest, the real binary, and the dataset read back through LoomData.

import Foundation
import LoomData
import LoomImage
import LoomTestSupport
import Testing

/// Colours the tests paint, and their names as classes.
let paints: [(name: String, rgb: (UInt8, UInt8, UInt8))] = [
    ("red", (220, 30, 30)), ("green", (30, 200, 40)), ("blue", (30, 40, 210)), ("white", (245, 245, 245)),
]

/// The mean colour of the centre 4x4 pixels of image `i` of `images` (S x S x 3 each).
func centreColour(_ images: [UInt8], index i: Int, size s: Int) -> (Int, Int, Int) {
    var sum = [0, 0, 0]
    for y in (s / 2 - 2)..<(s / 2 + 2) {
        for x in (s / 2 - 2)..<(s / 2 + 2) {
            for c in 0..<3 { sum[c] += Int(images[i * s * s * 3 + (y * s + x) * 3 + c]) }
        }
    }
    return (sum[0] / 16, sum[1] / 16, sum[2] / 16)
}

func close(_ a: (Int, Int, Int), _ b: (UInt8, UInt8, UInt8), within t: Int = 6) -> Bool {
    abs(a.0 - Int(b.0)) <= t && abs(a.1 - Int(b.1)) <= t && abs(a.2 - Int(b.2)) <= t
}

@Suite struct ImportImagesTests {
    @Test func importsAManifestWithBoxesSplitsAndLabels() throws {
        let ws = try Workspace("import-images", train: 8, test: 8)
        var lines = ["path,x1,y1,x2,y2,split,colour,hat"]
        // Eight JPEGs of one colour each; two PNGs; one JPEG whose box selects its right half.
        for i in 0..<8 {
            let p = paints[i % 4]
            try PhotoFiles.writeJPEG(ws.path("photos/j\(i).jpg"), pixels: PhotoFiles.solid(width: 60, height: 40, p.rgb), width: 60, height: 40)
            lines.append("photos/j\(i).jpg,,,,,\(i < 6 ? "train" : "test"),\(p.name),\(i % 2)")
        }
        try PhotoFiles.writePNG(ws.path("photos/p0.png"), pixels: PhotoFiles.solid(width: 30, height: 50, paints[2].rgb), width: 30, height: 50)
        lines.append("photos/p0.png,,,,,validation,blue,")
        try PhotoFiles.writeJPEG(ws.path("photos/halves.jpg"),
                                 pixels: PhotoFiles.halves(width: 80, height: 40, left: paints[0].rgb, right: paints[1].rgb), width: 80, height: 40)
        lines.append("photos/halves.jpg,40,0,80,40,train,green,-1")
        try ws.write("labels.csv", lines.joined(separator: "\n") + "\n")

        let out = ws.path("data/photos.h5")
        let r = try ws.loom(["import", "images", "--manifest", ws.path("labels.csv"), "--size", "16", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("images/s"), "\(r.stdout)")
        let ds = try Dataset(path: out)
        #expect(ds.splitNames == ["test", "train", "validation"])
        #expect(try ds.attribute("colour") == AttributeInfo(name: "colour", kind: .softmax, classNames: ["blue", "green", "red", "white"]))
        #expect(try ds.attribute("hat") == AttributeInfo(name: "hat", kind: .binary, classNames: ["0", "1"]))
        let train = try ds.split("train")
        #expect(train.count == 7 && train.imageShape == ImageShape(height: 16, width: 16, channels: 3))
        // Rows keep the manifest's order within a split: j0..j5, then halves.jpg.
        #expect(try train.labels("colour") == [2, 1, 0, 3, 2, 1, 1])
        #expect(try train.labels("hat") == [0, 1, 0, 1, 0, 1, -1])
        let images = try train.readImages(indices: Array(0..<7))
        for i in 0..<6 { #expect(close(centreColour(images, index: i, size: 16), paints[i % 4].rgb), "row \(i)") }
        #expect(close(centreColour(images, index: 6, size: 16), paints[1].rgb), "the box keeps the green half")
        // pad: a 60x40 image is 16x11 centred; the top row is black padding.
        #expect(images[0..<(16 * 3)].allSatisfy { $0 == 0 })
        let validation = try ds.split("validation")
        let validationHat = try validation.labels("hat")
        #expect(validation.count == 1 && validationHat == [-1])
        #expect(close(centreColour(try validation.readImages(indices: [0]), index: 0, size: 16), paints[2].rgb))
        #expect(try ds.computeFingerprint() == ds.fingerprint)
        let file = try LoomHDF5Probe.stringAttribute(out, "image_preprocessing")
        #expect(file == "size=16 fit=pad filter=area gap=0")
        let left = try FileManager.default.contentsOfDirectory(atPath: ws.path("data"))
        #expect(left == ["photos.h5"])
    }

    @Test func seededSplitDependsOnlyOnTheSeed() throws {
        let ws = try Workspace("import-split", train: 8, test: 8)
        var lines = ["image,colour"]
        for i in 0..<20 {
            try PhotoFiles.writePNG(ws.path("p\(i).png"), pixels: PhotoFiles.solid(width: 8, height: 8, paints[i % 4].rgb), width: 8, height: 8)
            lines.append("p\(i).png,\(paints[i % 4].name)")
        }
        try ws.write("m.csv", lines.joined(separator: "\r\n"))
        func run(_ seed: Int, _ out: String) throws -> Dataset {
            let r = try ws.loom(["import", "images", "--manifest", ws.path("m.csv"), "--size", "8", "--split", "0.5,0.25,0.25",
                                 "--seed", "\(seed)", "--out", ws.path(out)])
            try #require(r.status == 0, "\(r.stderr)")
            return try Dataset(path: ws.path(out))
        }
        let a = try run(3, "a.h5"), b = try run(3, "b.h5"), c = try run(4, "c.h5")
        let counts = try ["train", "validation", "test"].map { try a.split($0).count }
        #expect(counts == [10, 5, 5])
        #expect(a.fingerprint == b.fingerprint)
        #expect(a.fingerprint != c.fingerprint)
    }

    @Test func classesFileFixesTheOrder() throws {
        let ws = try Workspace("import-classes", train: 8, test: 8)
        var lines = ["path,split,colour"]
        for i in 0..<4 {
            try PhotoFiles.writePNG(ws.path("p\(i).png"), pixels: PhotoFiles.solid(width: 8, height: 8, paints[i].rgb), width: 8, height: 8)
            lines.append("p\(i).png,train,\(paints[i].name)")
        }
        try ws.write("m.csv", lines.joined(separator: "\n"))
        try ws.write("classes.yaml", "colour: [white, red, green, blue, black]\n")
        let r = try ws.loom(["import", "images", "--manifest", ws.path("m.csv"), "--classes", ws.path("classes.yaml"),
                             "--size", "8", "--out", ws.path("x.h5")])
        #expect(r.status == 0, "\(r.stderr)")
        let ds = try Dataset(path: ws.path("x.h5"))
        #expect(try ds.attribute("colour").classNames == ["white", "red", "green", "blue", "black"])
        #expect(try ds.split("train").labels("colour") == [1, 2, 3, 0])
    }
}

/// Reads one root string attr of an HDF5 file.
enum LoomHDF5Probe {
    static func stringAttribute(_ path: String, _ name: String) throws -> String? {
        let file = try LoomHDF5.HDF5File.open(path)
        defer { file.close() }
        return try file.root.stringAttribute(name)
    }
}

import LoomHDF5
