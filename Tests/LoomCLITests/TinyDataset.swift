// A tiny dataset (ARCHITECTURE.md, "Dataset file"), written with LoomHDF5 (its fingerprint by LoomData), that trains in a blink:
// 28x28x1 images where class c brightens the c-th of ten horizontal bands under heavy
// noise. The MLP gets well above chance in a few dozen steps without saturating, so
// accuracies and calibration have something to measure.

import Foundation
import LoomData
import LoomHDF5
import LoomTestSupport

enum TinyDataset {
    static let classes = 10

    /// Writes `train` + `test` samples to `path`. Deterministic in `seed`, so two files
    /// written with the same arguments are byte-for-byte the same dataset (and fingerprint).
    static func write(to path: String, train: Int = 256, test: Int = 64, seed: UInt64 = 11) throws {
        let file = try HDF5File.create(path)
        defer { file.close() }
        let root = file.root
        try root.setAttribute("name", "tiny-bands")
        try root.setAttribute("source", "LoomCLITests")
        try root.setAttribute("license", "none")
        _ = try root.createGroup("attributes/category")
        try root.setAttribute("kind", "softmax", on: "attributes/category")
        try root.setAttribute("class_names", (0..<classes).map { "band\($0)" }, on: "attributes/category")
        var rng = TestRandom(seed: seed)
        // The real content hash: training and workers verify it (DatasetVerifier).
        var contents = DatasetContents(name: "tiny-bands", source: "LoomCLITests", license: "none",
                                       imageShape: ImageShape(height: 28, width: 28, channels: 1), attributes: [], splits: [])
        for (split, n) in [("train", train), ("test", test)] {
            var images = [UInt8](repeating: 0, count: n * 28 * 28)   // (N, H, W, C)
            var labels = [Int32](repeating: 0, count: n)             // (N)
            for i in 0..<n {
                let c = Int(rng.next() % UInt64(classes))
                labels[i] = Int32(c)
                for p in 0..<(28 * 28) {
                    let inBand = (p / 28) * classes / 28 == c
                    images[i * 784 + p] = UInt8(Int(rng.next() % 200) + (inBand ? 40 : 0))
                }
            }
            // Contiguous, without chunk checksums, like files of earlier Loom versions.
            try root.write(images, shape: [n, 28, 28, 1], to: "\(split)/images")
            try root.write(labels, shape: [n], to: "\(split)/labels/category")
            contents.splits.append(.init(name: split, count: n, images: images, labels: ["category": labels]))
        }
        try root.setAttribute("fingerprint", contents.fingerprint)
    }
}

