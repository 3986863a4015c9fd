// Writing the attribute benchmark file and example grids for the docs.

import LoomData
import Foundation

extension AttributeBenchmark {
    /// Renders every garment of the `train` and `test` splits of `source` (a Fashion-MNIST
    /// dataset: 1-channel images, `category` labels) as colour images with `colour`,
    /// `pattern` and `category` labels, and writes them to `output` atomically.
    ///
    /// - Parameters:
    ///   - seed: the benchmark seed; sample i of split s is a function of (seed, s, i).
    ///   - limit: keep only the first `limit` samples of each split (tests, previews).
    @discardableResult
    public static func generate(source: Dataset, output: String = "data/fashion-mnist-attr.h5",
                                seed: UInt64 = 7, limit: Int? = nil,
                                control: ImportControl = ImportControl()) throws(DatasetError) -> DatasetSummary {
        let categories = try source.attribute("category")
        var splits: [DatasetContents.Split] = []
        var shape = ImageShape(height: 0, width: 0, channels: 3)
        for splitName in ["train", "test"] {
            if control.shouldStop() { throw .stopped(output: output, at: "before rendering split \(splitName)") }
            let split = try source.split(splitName)
            guard split.imageShape.channels == 1 else {
                throw .badLayout(file: source.path, object: "/\(splitName)/images",
                                 reason: "the benchmark recolours grey garments; images have \(split.imageShape.channels) channels")
            }
            let n = min(split.count, limit ?? split.count)
            let gray = try split.readImages(indices: Array(0..<n))
            let category = Array(try split.labels("category")[0..<n])
            let (h, w) = (split.imageShape.height, split.imageShape.width)
            shape = ImageShape(height: h, width: w, channels: 3)
            var rgb = [UInt8](repeating: 0, count: n * h * w * 3)
            var colour = [Int32](repeating: -1, count: n)
            var pattern = [Int32](repeating: -1, count: n)
            renderAll(gray: gray, count: n, height: h, width: w, seed: seed, split: splitName,
                      rgb: &rgb, colour: &colour, pattern: &pattern)
            var part = DatasetContents.Split(name: splitName, count: n, images: rgb)
            part.labels = ["colour": colour, "pattern": pattern, "category": category]
            splits.append(part)
        }
        let contents = DatasetContents(
            name: "fashion-mnist-attr",
            source: "Loom attribute benchmark (seed \(seed)) rendered from \(source.name) \(source.fingerprint); "
                + "label frequencies of StreetStyle-27k",
            license: source.license,
            imageShape: shape,
            attributes: [
                AttributeInfo(name: "category", kind: .softmax, classNames: categories.classNames),
                AttributeInfo(name: "colour", kind: .softmax, classNames: AttributeClasses.colour.map(\.name)),
                AttributeInfo(name: "pattern", kind: .softmax, classNames: AttributeClasses.pattern.map(\.name)),
            ],
            splits: splits)
        return try DatasetWriter.write(contents, to: output, control: control)
    }

    /// Opens `sourcePath` (e.g. `data/fashion-mnist.h5`) and generates from it.
    @discardableResult
    public static func generate(sourcePath: String, output: String = "data/fashion-mnist-attr.h5",
                                seed: UInt64 = 7, limit: Int? = nil,
                                control: ImportControl = ImportControl()) throws(DatasetError) -> DatasetSummary {
        try generate(source: try Dataset(path: sourcePath), output: output, seed: seed, limit: limit, control: control)
    }

    /// Renders samples in parallel; each writes only its own slots, and each sample
    /// depends only on its key, so the result does not depend on the thread count.
    private static func renderAll(gray: [UInt8], count n: Int, height h: Int, width w: Int, seed: UInt64,
                                  split: String, rgb: inout [UInt8], colour: inout [Int32], pattern: inout [Int32]) {
        guard n > 0 else { return }
        let chunk = 512
        let chunks = (n + chunk - 1) / chunk
        gray.withUnsafeBufferPointer { g in
            rgb.withUnsafeMutableBufferPointer { out in
                colour.withUnsafeMutableBufferPointer { c in
                    pattern.withUnsafeMutableBufferPointer { p in
                        let (g, out, c, p) = (UncheckedPointers(g), UncheckedPointers(out), UncheckedPointers(c), UncheckedPointers(p))
                        DispatchQueue.concurrentPerform(iterations: chunks) { k in
                            for i in (k * chunk)..<min(n, (k + 1) * chunk) {
                                let s = renderSample(gray: g.base + i * h * w, height: h, width: w,
                                                     seed: seed, split: split, index: i)
                                s.rgb.withUnsafeBufferPointer {
                                    (out.base + i * h * w * 3).update(from: $0.baseAddress!, count: h * w * 3)
                                }
                                c.base[i] = s.colour
                                p.base[i] = s.pattern
                            }
                        }
                    }
                }
            }
        }
    }

    /// A grid of examples for the docs: one row per class of `attribute` (first
    /// `perClass` samples of `split` with that label), each image scaled by `scale`.
    public static func writeExampleGrid(dataset: Dataset, attribute: String, perClass: Int = 8,
                                        split: String = "train", scale: Int = 2, to path: String) throws(DatasetError) {
        let info = try dataset.attribute(attribute)
        let s = try dataset.split(split)
        let labels = try s.labels(attribute)
        var rows = [[Int]](repeating: [], count: info.classNames.count)
        for (i, l) in labels.enumerated() where l >= 0 && rows[Int(l)].count < perClass {
            rows[Int(l)].append(i)
        }
        let (h, w, ch) = (s.imageShape.height, s.imageShape.width, s.imageShape.channels)
        let gap = 2, cellW = w * scale + gap, cellH = h * scale + gap
        let width = perClass * cellW + gap, height = rows.count * cellH + gap
        var rgb = [UInt8](repeating: 255, count: width * height * 3)
        for (r, indices) in rows.enumerated() {
            let images = try s.readImages(indices: indices)
            for (k, _) in indices.enumerated() {
                for y in 0..<(h * scale) {
                    for x in 0..<(w * scale) {
                        let src = (k * h * w + (y / scale) * w + x / scale) * ch
                        let dst = ((gap + r * cellH + y) * width + gap + k * cellW + x) * 3
                        for c in 0..<3 { rgb[dst + c] = images[src + (ch == 3 ? c : 0)] }
                    }
                }
            }
        }
        try PNGWriter.write(rgb: rgb, width: width, height: height, to: path)
    }
}

/// A buffer's base address, sendable into `concurrentPerform` (disjoint writes only).
private struct UncheckedPointers<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    init(_ b: UnsafeMutableBufferPointer<T>) { base = b.baseAddress! }
    init(_ b: UnsafeBufferPointer<T>) { base = UnsafeMutablePointer(mutating: b.baseAddress!) }
}
