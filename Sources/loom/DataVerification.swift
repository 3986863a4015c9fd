// Where `loom` remembers the dataset files that verified against their fingerprints, and
// the log lines around a verification (docs/DATASETS.md, "Verified data"). The CLI is the
// only place that reads the environment: the library is handed the cache file.

import Foundation
import Logging
import LoomData

enum DataVerification {
    /// `$LOOM_CACHE_DIR/verified-datasets`, else under `$XDG_CACHE_HOME/loom`, else
    /// `$HOME/.cache/loom`; nil (verify every time) when none of them is set.
    static var cacheFile: String? {
        let env = ProcessInfo.processInfo.environment
        let directory: String
        if let d = env["LOOM_CACHE_DIR"], !d.isEmpty {
            directory = d
        } else if let x = env["XDG_CACHE_HOME"], !x.isEmpty {
            directory = x + "/loom"
        } else if let home = env["HOME"], !home.isEmpty, home != "/" {
            directory = home + "/.cache/loom"
        } else {
            return nil
        }
        return directory + "/verified-datasets"
    }

    static var verifier: DatasetVerifier { DatasetVerifier(cache: cacheFile.map { VerifiedDatasetCache(path: $0) }) }

    /// Verifies `dataset` (once per file: see `DatasetVerifier`), logging what it cost.
    static func verify(_ dataset: Dataset, logger: Logger) throws {
        let verifier = verifier
        if verifier.isRemembered(dataset) {
            logger.debug("\(dataset.path): fingerprint \(dataset.fingerprint) verified before (\(verifier.cache!.path))")
            return
        }
        logger.info("verifying \(dataset.path) against its fingerprint \(dataset.fingerprint) (once per file)")
        let outcome = try verifier.verify(dataset)
        if let check = outcome.check { logger.info("\(dataset.path): \(describe(check))") }
        if let problem = outcome.cacheProblem {
            logger.warning("\(dataset.path) verified, but is not remembered (it will be verified again next time): \(problem)")
        }
    }

    /// `fingerprint f verified: 47.0 MB in 0.09 s (520 MB/s; 0.08 CPU s, 590 MB per CPU s)`.
    static func describe(_ check: FingerprintCheck) -> String {
        String(format: "fingerprint %@ verified: %.1f MB in %.2f s (%.0f MB/s; %.2f CPU s, %.0f MB per CPU s)", check.computed,
               Double(check.bytes) / 1e6, check.seconds, check.megabytesPerSecond, check.cpuSeconds,
               check.megabytesPerCPUSecond)
    }
}
