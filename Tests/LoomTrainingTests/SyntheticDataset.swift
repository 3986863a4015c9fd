import Foundation
import LoomHDF5
import LoomKernels

/// A small dataset (ARCHITECTURE.md, "Dataset file") with a learnable signal: class c lights up the
/// c-th horizontal band of a 28x28 image, plus noise.
enum SyntheticDataset {
    static func write(to path: String, train: Int = 512, test: Int = 128, classes: Int = 10, seed: UInt64 = 5) throws {
        let file = try HDF5File.create(path)
        defer { file.close() }
        let root = file.root
        try root.setAttribute("name", "synthetic")
        try root.setAttribute("source", "LoomTrainingTests")
        try root.setAttribute("license", "none")
        try root.setAttribute("fingerprint", "synthetic-\(train)-\(test)-\(seed)")
        try root.createGroup("attributes/category")
        try root.setAttribute("kind", "softmax", on: "attributes/category")
        try root.setAttribute("class_names", (0..<classes).map { "class\($0)" }, on: "attributes/category")
        var rng = KeyedRandom(seed: seed, purpose: .dataset)
        for (split, n) in [("train", train), ("test", test)] {
            var images = [UInt8](repeating: 0, count: n * 28 * 28)
            var labels = [Int32](repeating: 0, count: n)
            for i in 0..<n {
                let c = rng.nextInt(below: classes)
                labels[i] = Int32(c)
                for p in 0..<(28 * 28) {
                    let row = p / 28
                    let band = row * classes / 28 == c
                    images[i * 784 + p] = UInt8(min(255, (band ? 160 : 20) + rng.nextInt(below: 80)))
                }
            }
            try root.write(images, shape: [n, 28, 28, 1], to: "\(split)/images")
            try root.write(labels, shape: [n], to: "\(split)/labels/category")
        }
    }
}
