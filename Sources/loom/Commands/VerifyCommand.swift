import ArgumentParser
import LoomData

/// `loom verify DATA...`: recompute each dataset's fingerprint from its content.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check datasets against their fingerprints: recompute each from the data.",
        discussion: """
        Reads every image, label and target (chunk checksums are checked on the way) and \
        compares the hash with the file's fingerprint attribute. Exit status 0 when every \
        file matches, 1 when one does not or cannot be read. A file that matches is \
        remembered (LOOM_CACHE_DIR, else $XDG_CACHE_HOME/loom or ~/.cache/loom), so that \
        training and workers on this machine need not read it again.
        """)

    @Argument(help: "Dataset files (.h5).")
    var datasets: [String]

    @Flag(help: "Do not remember the files that verified.")
    var noCache = false

    func run() throws {
        try runReportingErrors {
            var failed: [String] = []
            for path in datasets {
                do {
                    let dataset = try Dataset(path: path)
                    let verifier = noCache ? DatasetVerifier(cache: nil) : DataVerification.verifier
                    let outcome = try verifier.verify(dataset, force: true)
                    let coverage: String
                    switch try dataset.checksumCoverage() {
                    case .every: coverage = "every array has chunk checksums"
                    case .partial: coverage = "some arrays have chunk checksums"
                    case .absent: coverage = "no chunk checksums (written before Loom stored them; it reads as before)"
                    }
                    print("\(path): \(DataVerification.describe(outcome.check!)); \(coverage)")
                    if let problem = outcome.cacheProblem { StandardError.write("warning: \(path): not remembered: \(problem)\n") }
                } catch {
                    StandardError.write("error: \(error)\n")
                    failed.append(path)
                }
            }
            if !failed.isEmpty { throw ExitCode.failure }
        }
    }
}
