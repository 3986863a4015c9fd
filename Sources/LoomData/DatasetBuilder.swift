// Building a dataset file in memory and writing it (ARCHITECTURE.md, "Dataset file"): the public
// face of `DatasetWriter` for generators, tools and tests. The file gets its content
// fingerprint and is written atomically, like every importer's output.

/// A dataset under construction: attribute declarations and splits, then `write(to:)`.
public struct DatasetBuilder: Sendable {
    public var name: String
    public var source: String
    public var license: String
    /// Shape of every image `(H, W, C)`.
    public let imageShape: ImageShape
    private var attributes: [AttributeInfo] = []
    private var splits: [String: Split] = [:]

    private struct Split: Sendable {
        var count: Int
        var images: [UInt8]
        var labels: [String: [Int32]]
        var targets: [String: Targets]
    }

    /// Dense float targets of one split: `values` is `(N, k)` row-major.
    public struct Targets: Equatable, Sendable {
        public var k: Int
        public var values: [Float]
        public init(k: Int, values: [Float]) { self.k = k; self.values = values }
    }

    public init(name: String, source: String = "", license: String = "", imageShape: ImageShape) {
        self.name = name; self.source = source; self.license = license; self.imageShape = imageShape
    }

    /// Declares `/attributes/<name>` (kind and class names); a later declaration of the same
    /// name replaces the earlier one.
    public mutating func declare(_ attribute: AttributeInfo) {
        attributes.removeAll { $0.name == attribute.name }
        attributes.append(attribute)
    }

    /// Adds (or replaces) split `name`: images `(N, H, W, C)`, int32 labels `(N)` per
    /// attribute (-1 = not labelled), float32 targets `(N, K)` per name (NaN = not labelled).
    /// - Throws: `.mismatch` when an array does not have N rows.
    public mutating func addSplit(_ name: String, images: [UInt8], labels: [String: [Int32]] = [:],
                                  targets: [String: Targets] = [:]) throws(DatasetError) {
        let pixels = imageShape.elementCount
        guard pixels > 0, images.count % pixels == 0 else {
            throw .mismatch(file: self.name, reason: "split '\(name)': \(images.count) image bytes are not whole images of \(imageShape)")
        }
        let n = images.count / pixels
        for (attribute, values) in labels where values.count != n {
            throw .mismatch(file: self.name, reason: "split '\(name)': \(values.count) labels '\(attribute)' for \(n) images")
        }
        for (target, t) in targets where t.k < 1 || t.values.count != n * t.k {
            throw .mismatch(file: self.name, reason: "split '\(name)': \(t.values.count) values of targets '\(target)' for \(n) images of K = \(t.k)")
        }
        splits[name] = Split(count: n, images: images, labels: labels, targets: targets)
    }

    /// Writes the dataset to `path` atomically (creating its directory) and returns what
    /// was written, fingerprint included.
    @discardableResult
    public func write(to path: String) throws(DatasetError) -> DatasetSummary {
        guard !splits.isEmpty else {
            throw .badLayout(file: path, object: "/", reason: "no split to write (addSplit first)")
        }
        let parts = splits.keys.sorted().map { key in
            let s = splits[key]!
            var part = DatasetContents.Split(name: key, count: s.count, images: s.images)
            part.labels = s.labels
            part.targets = s.targets.mapValues { (k: $0.k, values: $0.values) }
            return part
        }
        let contents = DatasetContents(name: name, source: source, license: license, imageShape: imageShape,
                                       attributes: attributes.sorted { $0.name < $1.name }, splits: parts)
        return try DatasetWriter.write(contents, to: path)
    }
}
