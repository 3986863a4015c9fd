// The whole photo path end to end: the photo benchmark written as JPEGs with a StreetStyle
// manifest, imported, trained on, then predicted from the image files; and the importer's
// memory bound on a manifest larger than the cap.

import Foundation
import LoomData
import LoomImage
import LoomTestSupport
import Testing

@Suite(.serialized) struct PhotoPipelineTests {
    @Test func benchmarkImportTrainAndPredictFromFiles() throws {
        let ws = try Workspace("photo-pipeline", train: 8, test: 8)
        let fm = ws.path("fm.h5")
        let imported = try ws.loom(["import", "fashion-mnist", "--out", fm])
        try #require(imported.status == 0, "\(imported.stderr)")
        let root = ws.path("photos")
        let gen = try ws.loom(["import", "photo-benchmark", "--root", root, "--count", "320", "--size", "32", "--from", fm,
                               "--split", "0.75,0.125,0.125", "--seed", "5", "--out", ws.path("photos.h5")])
        try #require(gen.status == 0, "\(gen.stderr)")
        let ds = try Dataset(path: ws.path("photos.h5"))
        #expect(try ds.split("train").count == 240 && (try ds.split("test").count) == 40)
        #expect(ds.imagePreprocessing == "size=32 fit=pad filter=area gap=0")

        let config = TestPaths.repositoryRoot.appendingPathComponent("configs/photos.yaml").path
        let run = ws.path("run")
        let train = try ws.loom(["train", "--config", config, "--set", "data.path=\(ws.path("photos.h5"))", "--set", "checkpoint.dir=\(run)",
                                 "--set", "model.input=[3, 32, 32]", "--set", "training.epochs=1", "--set", "training.batch_size=32",
                                 "--set", "training.micro_batch=8", "--workers", "0"])
        try #require(train.status == 0, "\(train.stderr)")
        let latest = run + "/latest.h5"

        // The first test row's file and box, predicted from the file, give exactly the
        // probabilities of the stored test image: same preprocessing, same pixels.
        let manifest = try StreetStyleLayout.read(root: root, splitFractions: [0.75, 0.125, 0.125], seed: 5)
        let first = try #require(manifest.rows.first { $0.split == "test" })
        let b = try #require(first.box)
        try ws.write("one.csv", "path,x1,y1,x2,y2\n\(first.path),\(b.x1),\(b.y1),\(b.x2),\(b.y2)\n")
        let fromFile = try ws.loom(["predict", latest, "--manifest", ws.path("one.csv"), "--top", "13", "--json"])
        try #require(fromFile.status == 0, "\(fromFile.stderr)")
        #expect(fromFile.stderr.contains("images/s"))
        let fromIndex = try ws.loom(["predict", latest, "--index", "0", "--split", "test", "--json"])
        try #require(fromIndex.status == 0, "\(fromIndex.stderr)")
        let fileHeads = try #require((try jsonObject(fromFile.stdout)["images"] as? [[String: Any]])?.first?["heads"] as? [[String: Any]])
        let indexHeads = try #require(try jsonObject(fromIndex.stdout)["heads"] as? [[String: Any]])
        for (f, i) in zip(fileHeads, indexHeads) {
            let fp = (f["predictions"] as? [[String: Any]] ?? []).map { "\($0["class"]!) \($0["probability"]!)" }
            let ip = (i["predictions"] as? [[String: Any]] ?? []).map { "\($0["class"]!) \($0["probability"]!)" }
            #expect(fp == ip, "\(f["head"] ?? "")")
        }

        // --image on several files, CSV out: one line per file, known class names.
        let files = manifest.rows.prefix(3).map(\.path)
        let csv = try ws.loom(["predict", latest, "--csv", "--image"] + files)
        try #require(csv.status == 0, "\(csv.stderr)")
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.count == 4 && lines[0].hasPrefix("image,major_color,major_color_probability"), "\(csv.stdout)")
        #expect(lines[1].split(separator: ",").count == 7)
        let colours = StreetStyleLayout.attributes[1].classes
        #expect(lines.dropFirst().allSatisfy { colours.contains(String($0.split(separator: ",")[1])) })

        // Reading and augmenting the streamed dataset, against a training step.
        let bench = try ws.loom(["bench", "--input", config, "--set", "data.path=\(ws.path("photos.h5"))", "--set", "model.input=[3, 32, 32]",
                                 "--set", "training.batch_size=32", "--set", "training.micro_batch=8", "--seconds", "0.3"])
        #expect(bench.status == 0, "\(bench.stderr)")
        #expect(bench.stdout.contains("% of a step") && bench.stdout.contains("streamed from the file"), "\(bench.stdout)")

        // `loom similar --image`: a test image written losslessly as a PNG of the model's size
        // is prepared back to the same pixels, so its nearest neighbour is itself, at 1.
        let stored = try ds.split("test").readImages(indices: [5])
        try PNGWriter.write(rgb: stored, width: 32, height: 32, to: ws.path("query.png"))
        let similar = try ws.loom(["similar", latest, "--image", ws.path("query.png"), "--split", "test", "--k", "2",
                                   "--out", ws.path("similar.html")])
        try #require(similar.status == 0, "\(similar.stderr)")
        #expect(similar.stdout.contains("nearest to image \(ws.path("query.png"))"), "\(similar.stdout)")
        #expect(similar.stdout.contains("1. sample 5  similarity 1.0000"), "\(similar.stdout)")
        #expect(try String(contentsOfFile: ws.path("similar.html"), encoding: .utf8).contains("query image"))
        let both = try ws.loom(["similar", latest, "--image", ws.path("query.png"), "--index", "1"])
        #expect(both.status != 0 && both.stderr.contains("either --index I or --image FILE"), "\(both.stderr)")

        // A broken file is named.
        try ws.write("broken.jpg", "not a photo")
        let broken = try ws.loom(["predict", latest, "--image", ws.path("broken.jpg")])
        #expect(broken.status != 0 && (broken.errorLine ?? "").contains("broken.jpg"), "\(broken.stderr)")
    }

    /// 3000 rows of 128x128x3 (147 MB of pixels) imported in batches of 32 rows: the
    /// process's peak resident memory stays under a 100 MiB cap.
    @Test func memoryStaysBoundedOnAManifestLargerThanTheCap() throws {
        let ws = try Workspace("photo-memory", train: 8, test: 8)
        try PhotoFiles.writeJPEG(ws.path("street.jpg"), pixels: PhotoFiles.halves(width: 200, height: 150, left: (90, 60, 30), right: (20, 80, 160)),
                                 width: 200, height: 150)
        var lines = ["path,x1,y1,x2,y2,colour"]
        lines.reserveCapacity(3001)
        for k in 0..<3000 {   // distinct boxes over one photo: every row is its own sample
            let x = k % 60, y = (k / 60) % 50
            lines.append("street.jpg,\(x),\(y),\(x + 100 + k / 3000),\(y + 90),\(k % 2 == 0 ? "brown" : "blue")")
        }
        try ws.write("m.csv", lines.joined(separator: "\n"))
        let capMiB = 100.0
        let pixelsMiB = 3000.0 * 128 * 128 * 3 / 1048576
        #expect(pixelsMiB > capMiB)
        let r = try ws.loom(["import", "images", "--manifest", ws.path("m.csv"), "--size", "128", "--batch", "32",
                             "--out", ws.path("big.h5")], timeout: 300)
        try #require(r.status == 0, "\(r.stderr)")
        let line = try #require(r.stdout.split(separator: "\n").first { $0.contains("peak memory") }, "\(r.stdout)")
        let peak = try #require(Double(line.split(separator: " ").reversed().dropFirst().first ?? ""), "\(line)")
        #expect(peak < capMiB, "\(line)")
        let ds = try Dataset(path: ws.path("big.h5"), residentLimit: 0)
        let total = try ds.splitNames.map { try ds.split($0).count }.reduce(0, +)
        #expect(total == 3000)
    }
}
