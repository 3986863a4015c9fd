// The photo benchmark's garment range: photo i is the same file and manifest line whichever
// `first` it is written from, so two disjoint ranges share no garment and no photo.

import Foundation
import LoomData
import LoomSynthetic
import LoomTestSupport
import Testing

@Suite struct PhotoBenchmarkTests {
    /// A Fashion-MNIST-shaped dataset of `count` distinct grey garments (train split only).
    func garments(_ count: Int, at path: String) throws -> Dataset {
        var builder = DatasetBuilder(name: "garments", imageShape: ImageShape(height: 28, width: 28, channels: 1))
        builder.declare(AttributeInfo(name: "category", kind: .softmax, classNames: (0..<10).map { "c\($0)" }))
        let images = (0..<count).flatMap { i in
            (0..<784).map { k -> UInt8 in
                let y = k / 28, x = k % 28
                return (3 + i..<25).contains(y) && (5..<23 - i).contains(x) ? UInt8(100 + 10 * i + x * 3) : 0
            }
        }
        try builder.addSplit("train", images: images, labels: ["category": (0..<count).map { Int32($0 % 10) }])
        try builder.write(to: path)
        return try Dataset(path: path)
    }

    /// The manifest's data lines and, by file name, each photo's bytes.
    func written(_ root: URL) throws -> (lines: [String], files: [String: Data]) {
        let manifest = try String(contentsOf: root.appendingPathComponent(StreetStyleLayout.manifestName), encoding: .utf8)
        let lines = manifest.split(separator: "\n").dropFirst().map(String.init)
        var files: [String: Data] = [:]
        for line in lines {
            let url = String(line.split(separator: ",", omittingEmptySubsequences: false)[1])
            files[(url as NSString).lastPathComponent] = try Data(contentsOf: URL(fileURLWithPath:
                StreetStyleLayout.imagePath(root: root.path, url: url)))
        }
        return (lines, files)
    }

    @Test func aLaterFirstGarmentWritesTheSamePhotosAsTheWholeRange() throws {
        let dir = try TestPaths.temporaryDirectory("photo-benchmark-first")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try garments(6, at: dir.appendingPathComponent("fm.h5").path)
        let all = dir.appendingPathComponent("all"), tail = dir.appendingPathComponent("tail")
        #expect(try PhotoBenchmark.generate(source: source, root: all.path, count: 6, size: 16) == 6)
        #expect(try PhotoBenchmark.generate(source: source, root: tail.path, first: 4, count: 2, size: 16) == 2)
        let a = try written(all), t = try written(tail)
        #expect(t.lines == Array(a.lines[4...]))
        #expect(t.lines.map { $0.split(separator: ",")[0] } == ["5", "6"])  // the id is the garment index + 1
        #expect(t.files.count == 2 && t.files.allSatisfy { a.files[$0.key] == $0.value })
        #expect(Set(a.files.values).count == 6)  // six garments, six different photos

        for (first, count) in [(6, 1), (5, 2), (-1, 1)] {
            #expect {
                try PhotoBenchmark.generate(source: source, root: dir.appendingPathComponent("bad").path, first: first, count: count, size: 16)
            } throws: { error in
                guard case DatasetError.invalidRequest(_, let reason) = error else { return false }
                return reason.contains("first \(first)") && reason.contains("count \(count)")
            }
        }
    }
}
