// A tiny dataset (ARCHITECTURE.md, "Dataset file"), written with LoomHDF5: 28x28x1 images whose
// brightness depends on the class, so a few steps of training move the loss.

import Foundation
import LoomData
import LoomHDF5

enum SyntheticDataset {
    /// Writes `/train` (`train` samples) and `/test` (`test` samples), one softmax
    /// attribute `category` with 10 classes, and root attrs. The fingerprint is the real
    /// content hash (workers verify it); another `seed` makes another dataset.
    static func write(to path: String, train: Int = 512, test: Int = 64, seed: UInt64 = 1) throws {
        let file = try HDF5File.create(path)
        defer { file.close() }
        let root = file.root
        var x = seed | 1
        func next() -> UInt64 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x }
        var contents = DatasetContents(name: "synthetic", source: "LoomClusterTests", license: "none",
                                       imageShape: ImageShape(height: 28, width: 28, channels: 1), attributes: [], splits: [])
        for (split, n) in [("train", train), ("test", test)] {
            let labels = (0..<n).map { _ in Int32(next() % 10) }
            var images = [UInt8](repeating: 0, count: n * 28 * 28)
            for i in 0..<n {
                for j in 0..<(28 * 28) { images[i * 784 + j] = UInt8(truncatingIfNeeded: Int(next() % 60) + Int(labels[i]) * 19) }
            }
            try root.write(images, shape: [n, 28, 28, 1], to: "\(split)/images")
            try root.write(labels, shape: [n], to: "\(split)/labels/category")
            contents.splits.append(.init(name: split, count: n, images: images, labels: ["category": labels]))
        }
        _ = try root.createGroup("attributes/category")
        try root.setAttribute("kind", "softmax", on: "attributes/category")
        try root.setAttribute("class_names", (0..<10).map { "class\($0)" }, on: "attributes/category")
        try root.setAttribute("name", "synthetic")
        try root.setAttribute("source", "LoomClusterTests")
        try root.setAttribute("license", "none")
        try root.setAttribute("fingerprint", contents.fingerprint)
        try file.flush()
    }
}
