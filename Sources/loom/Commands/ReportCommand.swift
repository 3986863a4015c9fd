import ArgumentParser
import Foundation
import LoomReport

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page about one run or a comparison of several.",
        discussion: """
        Reads each run directory's metrics.csv and checkpoints (so it works on a live run), and \
        evaluates each run's latest checkpoint on --split of the dataset its config names, once \
        uncalibrated and once with the checkpoint's temperatures. The page has inline SVG and \
        CSS only: no script, nothing fetched; it opens from disk in any browser.

        With --watch N it is rewritten every N seconds until interrupted (a checkpoint is \
        evaluated once, when it appears). See docs/REPORT.md.
        """)

    @Argument(help: "Run directories (checkpoint.dir of each run, e.g. runs/fashion-mnist).")
    var runs: [String]

    @Option(help: "The HTML file to write.")
    var out: String = "report.html"

    @Option(help: "Also write the comparison as Markdown to this file (a results page for a repository).")
    var markdown: String?

    @Option(help: "Split of the final evaluation: test, validation (carved from train as in the run), or any split of the dataset.")
    var split: String = "test"

    @Option(help: "Dataset file for the evaluations (default: each run's data.path).")
    var dataset: String?

    @Option(help: "Samples of the split on the PCA feature map (evenly spaced; 0: no map).")
    var mapSamples: Int = 500

    @Option(help: "Head whose classes colour the feature map (default: the first softmax head).")
    var mapHead: String?

    @Flag(help: "Do not evaluate the checkpoints: show what metrics.csv logged.")
    var noEval = false

    @Option(help: "Rewrite the report every N seconds until interrupted.")
    var watch: Int?

    @OptionGroup var global: GlobalOptions

    nonisolated(unsafe) static var signalSources: [DispatchSourceSignal] = []

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("give at least one run directory") }
        if mapSamples < 0 { throw ValidationError("--map-samples takes a count >= 0, got \(mapSamples)") }
        if let watch, watch < 1 { throw ValidationError("--watch takes a number of seconds >= 1, got \(watch)") }
    }

    func run() throws {
        let logger = global.bootstrap(process: "report")
        try runReportingErrors {
            global.prepareKernels(logger)
            let builder = ReportBuilder(directories: runs, options: ReportOptions(split: noEval ? nil : split, datasetPath: dataset,
                                                                                    mapSamples: mapSamples, mapHead: mapHead),
                                        logger: logger)
            let written = try builder.write(to: out, markdown: markdown, refreshSeconds: watch)
            print("wrote \(out)\(markdown.map { " and \($0)" } ?? ""): \(written.count) run\(written.count == 1 ? "" : "s")")
            guard let watch else { return }
            // Interrupting the watch is how it ends: the page on disk is always whole (written
            // by rename), so exit at once, with success.
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler {
                    logger.info("stopped watching; \(out) is the last page written")
                    Foundation.exit(0)
                }
                source.resume()
                Self.signalSources.append(source)
            }
            while true {
                sleep(UInt32(watch))
                do {
                    try builder.write(to: out, markdown: markdown, refreshSeconds: watch)
                    logger.info("rewrote \(out)")
                } catch {
                    // A run in the middle of something (a first checkpoint not yet there) is no
                    // reason to stop watching: say so and try again at the next tick.
                    logger.warning("could not rewrite \(out): \(error)")
                }
            }
        }
    }
}
