import ArgumentParser
import LoomData
import LoomSynthetic

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a dataset into Loom's HDF5 layout.",
        discussion: "See docs/DATASETS.md for each layout.",
        subcommands: [ImportFashionMNISTCommand.self, ImportImagesCommand.self, ImportStreetStyleCommand.self,
                      ImportDeepFashionCommand.self, ImportPhotoBenchmarkCommand.self])
}

struct ImportFashionMNISTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fashion-mnist",
        abstract: "Import Fashion-MNIST (and derive the attribute benchmark).",
        discussion: """
        Reads the four gzip'd IDX files of the Debian package dataset-fashion-mnist.

        With --attributes it then derives the colour/pattern attribute benchmark from the \
        imported file (see docs/DATASETS.md).
        """)

    @Option(help: "Directory holding the IDX files.")
    var source: String = FashionMNISTImporter.defaultSource

    @Option(help: "Output HDF5 file (default data/fashion-mnist.h5, or data/fashion-mnist-attr.h5 with --attributes).")
    var out: String?

    @Flag(help: "Write the derived colour/pattern attribute benchmark instead.")
    var attributes = false

    @Option(help: "With --attributes: the imported Fashion-MNIST file to derive from (imported first if missing).")
    var from: String = "data/fashion-mnist.h5"

    @Option(help: "With --attributes: generator seed.")
    var seed: UInt64 = 7

    @Option(help: "With --attributes: also write example grids (PNG) into this directory.")
    var examples: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let log = global.bootstrap(process: "import")
        try runReportingErrors {
            if attributes {
                let output = out ?? "data/fashion-mnist-attr.h5"
                if !FileManagerShim.exists(from) {
                    log.info("importing Fashion-MNIST into \(from) first")
                    try FashionMNISTImporter.import(source: source, output: from)
                }
                let summary = try AttributeBenchmark.generate(sourcePath: from, output: output, seed: seed)
                print("wrote \(output): \(summary)")
                if let dir = examples {
                    let ds = try Dataset(path: output)
                    for attribute in ["colour", "pattern"] {
                        try AttributeBenchmark.writeExampleGrid(dataset: ds, attribute: attribute,
                                                                to: "\(dir)/attr-\(attribute).png")
                    }
                    print("wrote example grids into \(dir)")
                }
            } else {
                let output = out ?? "data/fashion-mnist.h5"
                let summary = try FashionMNISTImporter.import(source: source, output: output)
                print("wrote \(output): \(summary)")
            }
        }
    }
}
