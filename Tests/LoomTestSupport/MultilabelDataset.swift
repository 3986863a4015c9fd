// A small dataset with a softmax head and a multilabel head, written through LoomData's
// `DatasetBuilder`, that a tiny model learns in a few hundred steps:
//
//   28x28x1 images, noise 0..<60 plus
//   - `category` (softmax, 3 classes): class c brightens the columns 4c ..< 4c + 4 (+70)
//   - `tags` (multilabel, 5 labels): label j brightens the rows 5j + 2 ..< 5j + 5 (+90);
//     each label is on with probability 0.4, independently
//
// Masking: about 10 % of tag elements are missing (written as `missing`: NaN by default, or
// -1), every 16th sample has no tags at all, and every 10th has category -1.

import Foundation
import LoomData

public enum MultilabelDataset {
    public static let tagNames = ["stripes", "dots", "checks", "logo", "zip"]
    public static let categoryNames = ["top", "trouser", "bag"]

    /// One split's contents.
    public struct Split {
        /// (N, 28, 28, 1) uint8.
        public var images: [UInt8]
        /// (N), -1 = not labelled.
        public var category: [Int32]
        /// (N, 5) row-major: 0 or 1, NaN where missing (whatever `missing` the file uses).
        public var tags: [Float]
        /// (N, 5): true where the tag element is missing.
        public var tagMissing: [Bool]
    }

    /// The samples of split `name` (deterministic in `seed` and `name`).
    public static func generate(_ name: String, count n: Int, seed: UInt64) -> Split {
        var rng = TestRandom(seed: seed ^ UInt64(truncatingIfNeeded: name.hashValueStable))
        let k = tagNames.count
        var split = Split(images: [UInt8](repeating: 0, count: n * 784), category: [Int32](repeating: 0, count: n),
                          tags: [Float](repeating: 0, count: n * k), tagMissing: [Bool](repeating: false, count: n * k))
        for i in 0..<n {
            let c = Int(rng.next() % 3)
            var on = [Bool](repeating: false, count: k)
            for j in 0..<k { on[j] = rng.unit() < 0.4 }
            for p in 0..<784 {
                let (row, column) = (p / 28, p % 28)
                var v = Int(rng.next() % 60)
                if column >= 4 * c && column < 4 * c + 4 { v += 70 }
                let j = row / 5
                if j < k && row % 5 >= 2 && on[j] { v += 90 }
                split.images[i * 784 + p] = UInt8(min(v, 255))
            }
            split.category[i] = i % 10 == 9 ? -1 : Int32(c)
            for j in 0..<k {
                let missing = i % 16 == 15 || rng.unit() < 0.1
                split.tagMissing[i * k + j] = missing
                split.tags[i * k + j] = missing ? .nan : (on[j] ? 1 : 0)
            }
        }
        return split
    }

    /// A split whose `category` labels and/or `tags` are all removed (-1, and `missing` for
    /// every tag element): a head with nothing labelled. Named `train` or `test`, it replaces
    /// that split; any other name adds a split.
    public struct UnlabelledSplit {
        public var name: String
        public var count: Int
        public var category: Bool
        public var tags: Bool
        /// `category` / `tags`: true to remove that head's labels.
        public init(_ name: String, count: Int, category: Bool = false, tags: Bool = false) {
            self.name = name; self.count = count; self.category = category; self.tags = tags
        }
    }

    /// Writes `train` and `test` splits (and the `unlabelled` ones, see `UnlabelledSplit`) to
    /// `path`; missing tag elements are stored as `missing` (NaN or -1 mean "not labelled";
    /// any other value labels them).
    @discardableResult
    public static func write(to path: String, train: Int = 512, test: Int = 128, seed: UInt64 = 5,
                             missing: Float = .nan, unlabelled: [UnlabelledSplit] = []) throws -> DatasetSummary {
        var builder = DatasetBuilder(name: "multilabel-bands", source: "LoomTestSupport", license: "none",
                                     imageShape: ImageShape(height: 28, width: 28, channels: 1))
        builder.declare(AttributeInfo(name: "category", kind: .softmax, classNames: categoryNames))
        builder.declare(AttributeInfo(name: "tags", kind: .multilabel, classNames: tagNames))
        let splits = [UnlabelledSplit("train", count: train), UnlabelledSplit("test", count: test)]
            .filter { base in !unlabelled.contains { $0.name == base.name } } + unlabelled
        for split in splits {
            var s = generate(split.name, count: split.count, seed: seed)
            if split.category { s.category = s.category.map { _ in -1 } }
            if split.tags { s.tagMissing = s.tagMissing.map { _ in true } }
            let stored = zip(s.tags, s.tagMissing).map { $1 ? missing : $0 }
            try builder.addSplit(split.name, images: s.images, labels: ["category": s.category],
                                 targets: ["tags": DatasetBuilder.Targets(k: tagNames.count, values: stored)])
        }
        return try builder.write(to: path)
    }

    /// The trunk of `config`: a one-hidden-layer MLP (YAML flow sequence of layers).
    public static let mlpTrunk = "[{kind: flatten}, {kind: linear, name: l1, out: 32}, {kind: relu}]"

    /// A run config (YAML) for this dataset: `trunk` layers, a softmax `category` head and
    /// a multilabel `tags` head with BCE; `extra` is appended verbatim (more sections).
    public static func config(dataPath: String, runDirectory: String, trunk: String = mlpTrunk,
                              extra: String = "") -> String {
        """
        name: multilabel-test
        data: {path: \(dataPath), mean: [0.25], std: [0.25]}
        model: {input: [1, 28, 28], layers: \(trunk)}
        heads:
          - {name: category, kind: softmax, layer: head_category}
          - {name: tags, kind: multilabel, layer: head_tags}
        optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}
        training: {seed: 3, epochs: 100, batch_size: 32, micro_batch: 8, log_every_steps: 50}
        checkpoint: {dir: \(runDirectory), every_steps: 0, keep: 1}
        \(extra)
        """
    }
}

/// SplitMix64 (Steele, Lea and Flood): a small seedable generator for test data and fuzz
/// cases, the same on every run and host, so a failure reproduces from its seed.
public struct TestRandom: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// In 0..<n (0 when n <= 0); the modulo bias is irrelevant to tests.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    /// One of `items` (not empty).
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: stable across runs (unlike `hashValue`).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
