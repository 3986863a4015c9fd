// `loom embed` and `loom similar` on the reference run: the file's probabilities agree
// with `loom eval`, and similar's neighbours are the cosine neighbours of embed's features.

import Foundation
import LoomHDF5
import Testing

@Suite(.serialized) struct EmbeddingCommandTests {
    @Test func embedWritesFeaturesAndProbabilitiesThatAgreeWithEval() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("embed")
        let r = try ws.loom(["embed", reference.spec.latest, "--split", "test", "--out", ws.path("emb.h5")])
        try #require(r.status == 0, "\(r.stderr)")
        let file = try HDF5File.open(ws.path("emb.h5"))
        defer { file.close() }
        let features = try file.root.read(Float.self, "features")
        let probabilities = try file.root.read(Float.self, "probabilities/category")
        let labels = try file.root.read(Int32.self, "labels/category").values
        #expect(features.shape == [64, 128], "the MLP trunk's output")
        #expect(probabilities.shape == [64, 10])
        #expect(try file.root.stringArrayAttribute("class_names", on: "probabilities/category")?.first == "band0")
        let p = probabilities.values
        var correct = 0
        for row in 0..<64 {
            let slice = p[(row * 10)..<((row + 1) * 10)]
            #expect(abs(slice.reduce(0, +) - 1) < 1e-5)
            if slice.firstIndex(of: slice.max()!)! - row * 10 == Int(labels[row]) { correct += 1 }
        }
        let eval = try jsonObject(try ws.loom(["eval", "--json", reference.spec.latest]).stdout)
        let accuracy = try #require(((eval["heads"] as? [String: Any])?["category"] as? [String: Any])?["accuracy"] as? Double)
        #expect(Double(correct) / 64 == accuracy)
    }

    @Test func similarListsTheCosineNeighboursOfEmbedsFeaturesAndDrawsThem() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("similar")
        let embed = try ws.loom(["embed", reference.spec.latest, "--out", ws.path("emb.h5")])
        try #require(embed.status == 0, "\(embed.stderr)")
        let r = try ws.loom(["similar", reference.spec.latest, "--index", "5", "--k", "4", "--out", ws.path("strip.html")])
        try #require(r.status == 0, "\(r.stderr)")
        let listed = r.stdout.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: ". sample ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        // The same ranking computed here from the embedded features.
        let file = try HDF5File.open(ws.path("emb.h5"))
        defer { file.close() }
        let f = try file.root.read(Float.self, "features").values
        func cosine(_ a: Int, _ b: Int) -> Double {
            let x = f[(a * 128)..<((a + 1) * 128)].map(Double.init), y = f[(b * 128)..<((b + 1) * 128)].map(Double.init)
            let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
            return dot / (x.reduce(0) { $0 + $1 * $1 }.squareRoot() * y.reduce(0) { $0 + $1 * $1 }.squareRoot())
        }
        let expected = (0..<64).filter { $0 != 5 }.sorted { cosine(5, $0) > cosine(5, $1) }.prefix(4)
        #expect(listed == Array(expected), "\(r.stdout)")
        let html = try String(contentsOfFile: ws.path("strip.html"), encoding: .utf8)
        #expect(ReportHTML.count(html, "<figure class=\"sample") == 5)
        #expect(ReportHTML.count(html, "<img src=\"data:image/png;base64,") == 5)

        let byProbabilities = try ws.loom(["similar", reference.spec.latest, "--index", "5", "--space", "probabilities", "--out", ws.path("p.html")])
        #expect(byProbabilities.status == 0 && byProbabilities.stdout.contains("probabilities"), "\(byProbabilities.stderr)")
        let outside = try ws.loom(["similar", reference.spec.latest, "--index", "64", "--out", ws.path("x.html")])
        #expect(outside.status != 0 && outside.errorLine?.contains("--index 64") == true, "\(outside.stderr)")
        let badSpace = try ws.loom(["similar", reference.spec.latest, "--index", "1", "--space", "pixels"])
        #expect(badSpace.status != 0 && badSpace.stderr.contains("--space"), "\(badSpace.stderr)")
    }
}
