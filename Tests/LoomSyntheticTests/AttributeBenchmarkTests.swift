import Foundation
import LoomData
import LoomSynthetic
import LoomTestSupport
import Testing

@Suite struct AttributeBenchmarkTests {
    /// A grey test garment (28x28): a filled rectangle with shading, background 0.
    var garment: [UInt8] {
        (0..<784).map { k in
            let y = k / 28, x = k % 28
            return (4..<24).contains(y) && (6..<22).contains(x) ? UInt8(120 + x * 4) : 0
        }
    }

    func render(seed: UInt64, split: String = "train", index: Int) -> AttributeBenchmark.Sample {
        garment.withUnsafeBufferPointer {
            AttributeBenchmark.renderSample(gray: $0.baseAddress!, height: 28, width: 28, seed: seed, split: split, index: index)
        }
    }

    @Test func samplesAreAPureFunctionOfSeedSplitAndIndex() {
        let a = render(seed: 7, index: 12), b = render(seed: 7, index: 12)
        #expect(a.rgb == b.rgb && a.colour == b.colour && a.pattern == b.pattern)
        #expect(render(seed: 8, index: 12).rgb != a.rgb)
        #expect(render(seed: 7, index: 13).rgb != a.rgb)
        #expect(render(seed: 7, split: "test", index: 12).rgb != a.rgb)
    }

    @Test func labelFrequenciesFollowStreetStyleCounts() {
        let n = 40000
        var colour = [Int](repeating: 0, count: 13), pattern = [Int](repeating: 0, count: 6)
        for i in 0..<n {
            let l = AttributeBenchmark.drawLabels(seed: 7, split: "train", index: i)
            colour[l.colour] += 1
            pattern[l.pattern] += 1
        }
        let colourTotal = Double(AttributeClasses.colour.map(\.count).reduce(0, +))
        for (c, ref) in AttributeClasses.colour.enumerated() {
            let expected = Double(ref.count) / colourTotal, got = Double(colour[c]) / Double(n)
            // 4 binomial standard deviations.
            #expect(abs(got - expected) < 4 * (expected * (1 - expected) / Double(n)).squareRoot() + 1e-4, "\(ref.name)")
        }
        let patternTotal = Double(AttributeClasses.pattern.map(\.count).reduce(0, +))
        for (p, ref) in AttributeClasses.pattern.enumerated() {
            let expected = Double(ref.count) / patternTotal, got = Double(pattern[p]) / Double(n)
            #expect(abs(got - expected) < 4 * (expected * (1 - expected) / Double(n)).squareRoot() + 1e-4, "\(ref.name)")
        }
    }

    @Test func someLabelsAreWithheldAtTheDocumentedRates() {
        let n = 20000
        let draws = (0..<n).map { AttributeBenchmark.drawLabels(seed: 7, split: "train", index: $0) }
        let colourRate = Double(draws.filter(\.colourWithheld).count) / Double(n)
        let patternRate = Double(draws.filter(\.patternWithheld).count) / Double(n)
        #expect(abs(colourRate - AttributeBenchmark.missingColourRate) < 0.006)
        #expect(abs(patternRate - AttributeBenchmark.missingPatternRate) < 0.008)
    }

    @Test func garmentTakesItsClassColourAndBackgroundDoesNot() {
        // Find a solid red sample and check the garment centre is red-dominant.
        let i = (0..<5000).first { i in
            let l = AttributeBenchmark.drawLabels(seed: 7, split: "train", index: i)
            return l.colour == 5 && l.pattern == 0
        }!
        let s = render(seed: 7, index: i)
        let centre = (14 * 28 + 14) * 3
        let (r, g, b) = (Int(s.rgb[centre]), Int(s.rgb[centre + 1]), Int(s.rgb[centre + 2]))
        #expect(r > g + 40 && r > b + 40, "rgb \(r) \(g) \(b)")
    }

    @Test func generatedSubsetHasLayoutLabelsAndStableFingerprint() throws {
        let dir = try SyntheticIDX.directory(train: 40, test: 12)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("fm.h5").path
        try FashionMNISTImporter.import(source: dir.path, output: source, expectedCounts: false)
        let out1 = dir.appendingPathComponent("attr1.h5").path, out2 = dir.appendingPathComponent("attr2.h5").path
        let s1 = try AttributeBenchmark.generate(sourcePath: source, output: out1, seed: 7, limit: 25)
        let s2 = try AttributeBenchmark.generate(sourcePath: source, output: out2, seed: 7, limit: 25)
        #expect(s1.fingerprint == s2.fingerprint)
        #expect(s1.splits == ["train": 25, "test": 12])
        let ds = try Dataset(path: out1)
        #expect(ds.attributes.map(\.name) == ["category", "colour", "pattern"])
        #expect(try ds.attribute("colour").classNames.count == 13)
        let train = try ds.split("train")
        #expect(train.imageShape == ImageShape(height: 28, width: 28, channels: 3))
        let colour = try train.labels("colour")
        for i in 0..<25 {
            let l = AttributeBenchmark.drawLabels(seed: 7, split: "train", index: i)
            #expect(colour[i] == (l.colourWithheld ? -1 : Int32(l.colour)))
        }
        #expect(try train.labels("category") == (0..<25).map { Int32($0 % 10) })
        let other = try AttributeBenchmark.generate(sourcePath: source, output: out2, seed: 8, limit: 25)
        #expect(other.fingerprint != s1.fingerprint)
    }

    @Test func exampleGridIsWrittenAsPNG() throws {
        let dir = try SyntheticIDX.directory(train: 60, test: 10)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("fm.h5").path
        try FashionMNISTImporter.import(source: dir.path, output: source, expectedCounts: false)
        let attr = dir.appendingPathComponent("attr.h5").path
        try AttributeBenchmark.generate(sourcePath: source, output: attr)
        let png = dir.appendingPathComponent("grid.png").path
        try AttributeBenchmark.writeExampleGrid(dataset: Dataset(path: attr), attribute: "pattern", perClass: 4, to: png)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
    }
}
