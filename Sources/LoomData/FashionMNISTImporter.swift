// Importing Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) from its four gzip'd IDX files,
// as the Debian package `dataset-fashion-mnist` installs them, into the dataset layout
// of ARCHITECTURE.md ("Dataset file"): `train` (60000) and `test` (10000) splits of 28x28x1 uint8 images with a
// `category` softmax label.

/// Converts the Fashion-MNIST IDX files into a Loom HDF5 dataset.
public enum FashionMNISTImporter {
    /// Fashion-MNIST's ten garment categories, in label order.
    public static let categories: [String] = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// Where `dataset-fashion-mnist` installs the files.
    public static let defaultSource = "/usr/share/datasets/fashion-mnist"

    /// The four files: (split, images file, labels file, expected count).
    static let files: [(split: String, images: String, labels: String, count: Int)] = [
        ("train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
        ("test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
    ]

    /// Reads and checks the IDX files in `source` and writes `output` atomically.
    ///
    /// Checks: magic numbers (2051 images, 2049 labels), 28x28 images, image and label
    /// counts agree and equal 60000/10000 (`expectedCounts: false` accepts any count, for
    /// small test files), data length equals what the header declares, labels in 0...9.
    /// - Throws: `DatasetError` naming the offending file; no output file is left behind.
    @discardableResult
    /// `control` may stop the import between two megabytes read or two slabs written
    /// (`.stopped`; nothing is left behind).
    public static func `import`(source: String = defaultSource, output: String,
                                expectedCounts: Bool = true,
                                control: ImportControl = ImportControl()) throws(DatasetError) -> DatasetSummary {
        let shape = ImageShape(height: 28, width: 28, channels: 1)
        var splits: [DatasetContents.Split] = []
        for f in files {
            let imagePath = source + "/" + f.images, labelPath = source + "/" + f.labels
            let images = try IDXFile.read(path: imagePath, magic: IDXFile.imageMagic, rank: 3, output: output, control: control)
            let labels = try IDXFile.read(path: labelPath, magic: IDXFile.labelMagic, rank: 1, output: output, control: control)
            let n = images.dimensions[0]
            guard images.dimensions[1] == 28, images.dimensions[2] == 28 else {
                throw .badIDX(file: imagePath, reason: "images are \(images.dimensions[1])x\(images.dimensions[2]), expected 28x28")
            }
            guard labels.dimensions[0] == n else {
                throw .mismatch(file: labelPath, reason: "\(labels.dimensions[0]) labels for the \(n) images of \(imagePath)")
            }
            if expectedCounts && n != f.count {
                throw .mismatch(file: imagePath, reason: "\(n) images, Fashion-MNIST's \(f.split) split has \(f.count)")
            }
            if let bad = labels.data.firstIndex(where: { $0 > 9 }) {
                throw .labelOutOfRange(file: labelPath, index: bad, value: Int(labels.data[bad]), classes: 10)
            }
            var split = DatasetContents.Split(name: f.split, count: n, images: images.data)
            split.labels["category"] = labels.data.map { Int32($0) }
            splits.append(split)
        }
        let contents = DatasetContents(
            name: "fashion-mnist",
            source: "Fashion-MNIST (Xiao, Rasul, Vollgraf 2017), IDX files from \(source)",
            license: "MIT (Zalando SE)",
            imageShape: shape,
            attributes: [AttributeInfo(name: "category", kind: .softmax, classNames: categories)],
            splits: splits)
        try control.check(output: output, at: "before writing")
        return try DatasetWriter.write(contents, to: output, control: control)
    }
}
