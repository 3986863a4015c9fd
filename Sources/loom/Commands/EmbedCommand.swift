import ArgumentParser
import Foundation
import LoomCheckpoint
import LoomReport

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Write each sample's trunk features and calibrated head probabilities to an HDF5 file.",
        discussion: """
        /features (N, F): the trunk's output, the layer every head reads; /probabilities/<head> \
        (N, K) with the checkpoint's temperatures; /indices (N): sample indices in the split; \
        /labels/<head> (N) when the split has them. See docs/REPORT.md.
        """)

    @Argument(help: "Checkpoint file.")
    var checkpoint: String

    @Option(help: "Split to embed.")
    var split: String = "test"

    @Option(help: "Output HDF5 file.")
    var out: String

    @Option(help: "Embed this many samples, evenly spaced over the split (default: all).")
    var limit: Int?

    @Option(help: "Dataset file (default: the checkpoint config's data.path).")
    var dataset: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.bootstrap(process: "embed")
        try runReportingErrors {
            global.prepareKernels(logger)
            let contents = try CheckpointReader.read(checkpoint)
            let set = try EmbeddingSet.compute(checkpoint: checkpoint, contents: contents, split: split, limit: limit,
                                               datasetPath: dataset, logger: logger)
            try set.write(to: out)
            print("wrote \(out): \(set.count) samples of '\(split)', \(set.featureCount) features, heads \(set.heads.map(\.name).joined(separator: ", "))")
        }
    }
}

struct SimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar",
        abstract: "List the samples nearest to a sample or a photo by cosine similarity, and write an HTML strip of them.",
        discussion: """
        The whole split is embedded with the checkpoint; --space features compares trunk \
        features (how the network sees the sample), --space probabilities the calibrated head \
        probabilities side by side (what it concludes).
        """)

    @Argument(help: "Checkpoint file.")
    var checkpoint: String

    @Option(help: "Index of the query sample in the split.")
    var index: Int?

    @Option(help: "A photo to query with instead of --index (JPEG or PNG), prepared as the checkpoint's training images were.")
    var image: String?

    @Option(help: "Split to search (the query is taken from it too).")
    var split: String = "test"

    @Option(help: "Number of neighbours.")
    var k: Int = 4

    @Option(help: "features or probabilities.")
    var space: String = "features"

    @Option(help: "HTML strip of the query and its neighbours.")
    var out: String = "similar.html"

    @Option(help: "Dataset file (default: the checkpoint config's data.path).")
    var dataset: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard EmbeddingSpace(rawValue: space) != nil else {
            throw ValidationError("--space must be 'features' or 'probabilities', got '\(space)'")
        }
        guard k >= 1 else { throw ValidationError("--k takes a count >= 1, got \(k)") }
        guard (index == nil) != (image == nil) else { throw ValidationError("give the query as either --index I or --image FILE") }
    }

    func run() throws {
        let logger = global.bootstrap(process: "similar")
        try runReportingErrors {
            global.prepareKernels(logger)
            let contents = try CheckpointReader.read(checkpoint)
            let set = try EmbeddingSet.compute(checkpoint: checkpoint, contents: contents, split: split,
                                               datasetPath: dataset, keepImages: true, queryImage: image, logger: logger)
            // A photo is the set's last row; a sample of the split is its own row.
            let index = self.index ?? set.count - 1
            guard index >= 0 && index < set.count else {
                throw CLIError("--index \(index) is outside split '\(split)' (0..<\(set.count))")
            }
            let chosen = EmbeddingSpace(rawValue: space)!
            let (values, width) = set.vectors(chosen)
            let neighbours = Similarity.nearest(to: index, in: values, width: width, k: k)
            print("nearest to \(image.map { "image \($0)" } ?? "\(split) sample \(index)") by cosine similarity of \(chosen.rawValue):")
            for (i, n) in neighbours.enumerated() {
                let labels = set.heads.compactMap { h -> String? in
                    guard n.row < h.labels.count, h.labels[n.row] >= 0 else { return nil }
                    let c = Int(h.labels[n.row])
                    return "\(h.name) \(c < h.classNames.count ? h.classNames[c] : "\(c)")"
                }
                print(String(format: "  %d. sample %d  similarity %.4f", i + 1, set.indices[n.row], n.similarity)
                      + (labels.isEmpty ? "" : "  (" + labels.joined(separator: ", ") + ")"))
            }
            try SimilarStrip.write(set, query: index, neighbours: neighbours, space: chosen, to: out)
            print("wrote \(out)")
        }
    }
}
