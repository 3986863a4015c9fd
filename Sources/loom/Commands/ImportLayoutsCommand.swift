import ArgumentParser
import Foundation
import LoomData
import LoomSynthetic

struct ImportStreetStyleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streetstyle",
        abstract: "Import StreetStyle-27k (streetstyle27k.manifest and its image folders).")

    @Option(help: "Directory holding streetstyle27k.manifest and the streetstyle27k/ image tree.")
    var root: String

    @Option(help: "train,validation,test fractions (the dataset has no official split).")
    var split: String = "0.8,0.1,0.1"

    @Option(help: "Seed of that split.")
    var seed: UInt64 = 7

    @OptionGroup var photo: PhotoImportArguments
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let stop = CommandStop.install()
        let logger = global.bootstrap(process: "import")
        try runReportingErrors {
            let m = try StreetStyleLayout.read(root: root, splitFractions: try PhotoManifest.parseFractions(split), seed: seed)
            try photo.run(m, logger: logger, stop: stop)
        }
    }
}

struct ImportDeepFashionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deepfashion",
        abstract: "Import DeepFashion's Category and Attribute Prediction benchmark.")

    @Option(help: "The benchmark's directory (with Anno/, Eval/ and Img/, or the list files and img/ in one place).")
    var root: String

    @OptionGroup var photo: PhotoImportArguments
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let stop = CommandStop.install()
        let logger = global.bootstrap(process: "import")
        try runReportingErrors {
            let m = try DeepFashionLayout.read(root: root)
            try photo.run(m, logger: logger, stop: stop)
        }
    }
}

struct ImportPhotoBenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photo-benchmark",
        abstract: "Write the photo benchmark (JPEGs + a StreetStyle-27k manifest) and import it.",
        discussion: "Renders Fashion-MNIST garments as (2S x 3S/2) street photos with StreetStyle-27k's colour and "
            + "pattern frequencies into --root, then imports that directory exactly as `loom import streetstyle --root` "
            + "would (see docs/DATASETS.md).")

    @Option(help: "Directory to write the photos and streetstyle27k.manifest into.")
    var root: String

    @Option(help: "Number of photos (one per Fashion-MNIST train garment, from --first).")
    var count: Int = 10000

    @Option(help: "Index of the first Fashion-MNIST train garment to use (photo i is the same whatever --first).")
    var first: Int = 0

    @Option(help: "The imported Fashion-MNIST file to take garments from (imported first if missing).")
    var from: String = "data/fashion-mnist.h5"

    @Option(help: "Generator seed (also seeds the train/validation/test split).")
    var seed: UInt64 = 7

    @Option(help: "train,validation,test fractions.")
    var split: String = "0.8,0.1,0.1"

    @OptionGroup var photo: PhotoImportArguments
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let stop = CommandStop.install()
        let logger = global.bootstrap(process: "import")
        try runReportingErrors {
            if !FileManagerShim.exists(from) {
                logger.info("importing Fashion-MNIST into \(from) first")
                try FashionMNISTImporter.import(source: FashionMNISTImporter.defaultSource, output: from)
            }
            let start = Date()
            try PhotoBenchmark.generate(source: try Dataset(path: from), root: root, first: first, count: count, size: photo.size,
                                        seed: seed)
            print(String(format: "wrote %d photos and %@ into %@ in %.1f s", count, StreetStyleLayout.manifestName, root,
                         Date().timeIntervalSince(start)))
            let m = try StreetStyleLayout.read(root: root, splitFractions: try PhotoManifest.parseFractions(split), seed: seed)
            try photo.run(m, logger: logger, stop: stop)
        }
    }
}
