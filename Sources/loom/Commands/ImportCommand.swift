import ArgumentParser
import Logging
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
        let stop = CommandStop.install()
        let log = global.bootstrap(process: "import")
        try runReportingErrors {
            let view = ImportProgressView(logger: log)
            let control = ImportControl(shouldStop: stop.check, progress: { view.update($0) })
            do {
                if attributes {
                    let output = out ?? "data/fashion-mnist-attr.h5"
                    if !FileManagerShim.exists(from) {
                        log.info("importing Fashion-MNIST into \(from) first")
                        let summary = try FashionMNISTImporter.import(source: source, output: from, control: control)
                        view.finish()
                        print("wrote \(summary.text)")
                    }
                    if stop.isRequested { throw DatasetError.stopped(output: output, at: "before deriving the attribute benchmark") }
                    log.info("deriving the attribute benchmark from \(from) into \(output)")
                    let summary = try AttributeBenchmark.generate(sourcePath: from, output: output, seed: seed, control: control)
                    view.finish()
                    print("wrote \(summary.text)")
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
                    let summary = try FashionMNISTImporter.import(source: source, output: output, control: control)
                    view.finish()
                    print("wrote \(summary.text)")
                }
            } catch let error as DatasetError {
                view.finish()
                if case .stopped = error { throw stop.exit(log, "\(error)") }
                throw error
            }
        }
    }
}

/// The stages of an import (`read <file>`, `write <split>`) as they come: each logged when it
/// starts, with a bar (or a log line now and then) while it runs. Bytes show as MB.
final class ImportProgressView {
    private let logger: Logger
    private var stage: String?
    private var progress: WorkProgress?

    init(logger: Logger) { self.logger = logger }

    func update(_ p: ImportProgress) {
        let megabytes = p.unit == "bytes"
        if p.stage != stage {
            progress?.finish()
            stage = p.stage
            logger.info("\(p.stage) (\(megabytes ? "\(p.total / 1_000_000) MB" : "\(p.total) \(p.unit)"))")
            progress = WorkProgress(logger: logger, title: p.stage, unit: megabytes ? "MB" : p.unit)
        }
        progress?.update(done: megabytes ? p.done / 1_000_000 : p.done, total: megabytes ? p.total / 1_000_000 : p.total)
    }

    func finish() {
        progress?.finish()
        progress = nil
        stage = nil
    }
}

extension DatasetSummary {
    /// `data/x.h5: test 10000, train 60000 images of 28x28x1, fingerprint f3cbdb29daba27cf`
    var text: String {
        let counts = splits.keys.sorted().map { "\($0) \(splits[$0]!)" }.joined(separator: ", ")
        return "\(path): \(counts) images of \(imageShape), fingerprint \(fingerprint)"
    }
}
