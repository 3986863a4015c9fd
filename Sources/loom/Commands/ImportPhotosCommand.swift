import ArgumentParser
import Foundation
import Logging
import LoomData
import LoomImage

/// Options every photo import shares: output, size, fit, bad rows, threads.
struct PhotoImportArguments: ParsableArguments {
    @Option(help: "Output HDF5 file.")
    var out: String

    @Option(help: "Side S of the stored S x S images, in pixels.")
    var size: Int = 96

    @Option(help: "pad: the whole box, longer side S, centred on black; crop: the centred square of the box.")
    var fit: String = "pad"

    @Flag(help: "Skip bad rows (missing or broken images, bad fields) and report them, instead of stopping.")
    var skipBad = false

    @Option(help: "Decoding threads (default: every core).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Rows decoded between two writes (bounds the memory for pixels).")
    var batch: Int = 256

    @Option(help: "Faster JPEG decoding: decode at 1/2, 1/4 or 1/8 scale while the decoded box stays this many times the output size (e.g. 2; default 0: full size, exact).")
    var reductionGap: Double = 0

    @Option(help: "Dataset name (default: the output file's name).")
    var name: String?

    @Option(help: "Dataset license text, stored with it.")
    var license: String = ""

    func validate() throws {
        guard Fit(rawValue: fit) != nil else { throw ValidationError("--fit must be pad or crop, got '\(fit)'") }
        guard (1...4096).contains(size) else { throw ValidationError("--size must be in 1...4096, got \(size)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard reductionGap >= 0 else { throw ValidationError("--reduction-gap must be 0 or more") }
    }

    var options: PhotoImportOptions {
        var o = PhotoImportOptions(preprocessing: ImagePreprocessing(size: size, fit: Fit(rawValue: fit) ?? .pad, reductionGap: reductionGap),
                                   name: name ?? ((out as NSString).lastPathComponent as NSString).deletingPathExtension)
        o.skipBad = skipBad
        o.threads = threads
        o.batchRows = batch
        o.license = license
        return o
    }

    /// Imports `manifest` with progress (a bar, or a log line at the first batch and every
    /// 10 s), then prints what was written, what was skipped, the throughput and the peak
    /// memory. SIGTERM/SIGINT stop it between two rows (`CommandStop`).
    func run(_ manifest: PhotoManifest, logger: Logger, stop: CommandStop) throws {
        let progress = WorkProgress(logger: logger, title: "import", unit: "images")
        var first = true
        logger.info("\(manifest.rows.count) rows of \(manifest.file) into \(out)")
        let report: PhotoImportReport
        do {
            report = try PhotoImporter.run(manifest, output: out, options: options, shouldStop: stop.check) { done, total, skipped in
                if first && !Console.drawsBars { logger.info("\(done)/\(total) rows decoded, \(skipped) skipped") }
                first = false
                progress.update(done: done, total: total, detail: "\(skipped) skipped")
            }
        } catch {
            progress.finish()
            if case .output(.stopped) = error { throw stop.exit(logger, "\(error)") }
            throw error
        }
        progress.finish()
        let s = report.summary
        let splits = s.splits.keys.sorted().map { "\($0) \(s.splits[$0]!)" }.joined(separator: ", ")
        print("wrote \(s.path): \(splits) images of \(s.imageShape), fingerprint \(s.fingerprint)")
        if !report.skipped.isEmpty {
            print("skipped \(report.skipped.count) bad rows; the first:")
            for e in report.skipped.prefix(5) { print("  \(e)") }
        }
        let rate = Double(manifest.rows.count) / max(report.seconds, 1e-9)
        var memory = ""
        if let peak = PeakMemory.residentMiB() { memory = String(format: ", peak memory %.0f MiB", peak) }
        print(String(format: "%d rows in %.2f s: %.0f images/s on %d threads%@", manifest.rows.count, report.seconds, rate,
                     threads, memory))
    }
}

/// The process's peak resident memory (VmHWM), on Linux.
enum PeakMemory {
    static func residentMiB() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first
            return kb.map { $0 / 1024 }
        }
        return nil
    }
}

struct ImportImagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images",
        abstract: "Import JPEG/PNG photos listed in a CSV manifest.",
        discussion: "The manifest has a header with a path column (path, image, file or filename), optional "
            + "x1,y1,x2,y2 crop box and split (train/validation/test) columns, and one column per attribute "
            + "(class names, or 0/1; empty or -1 = unlabelled). See docs/DATASETS.md.")

    @Option(help: "The CSV manifest.")
    var manifest: String

    @Option(help: "Directory the manifest's image paths are relative to (default: the manifest's directory).")
    var root: String?

    @Option(help: "YAML map from attribute to its class names in order (other values are errors).")
    var classes: String?

    @Option(help: "Comma-separated attribute columns to import (default: every other column).")
    var attributes: String?

    @Option(help: "train,validation,test fractions when the manifest has no split column.")
    var split: String = "0.8,0.1,0.1"

    @Option(help: "Seed of that split.")
    var seed: UInt64 = 7

    @OptionGroup var photo: PhotoImportArguments
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let stop = CommandStop.install()
        let logger = global.bootstrap(process: "import")
        try runReportingErrors {
            var o = ImageManifestOptions(root: root ?? (manifest as NSString).deletingLastPathComponent)
            if o.root.isEmpty { o.root = "." }
            if let classes { o.classes = try ImageManifestReader.loadClasses(path: classes) }
            o.attributes = attributes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            o.splitFractions = try PhotoManifest.parseFractions(split)
            o.seed = seed
            let m = try ImageManifestReader.read(path: manifest, options: o)
            try photo.run(m, logger: logger, stop: stop)
        }
    }
}
