// A worker's own copy of the dataset: images, labels and targets of the train split by index.

import Foundation
import Logging
import LoomData
import LoomTraining

/// The dataset file a worker reads samples from instead of receiving them.
final class WorkerData {
    let dataset: Dataset
    /// Per split: the heads its ground truth was read for, and that truth. A worker keeps
    /// its dataset from run to run, and the next run may have other heads (or the same in
    /// another order): the truth is read again when the heads differ.
    private var truthCache: [String: (heads: [ResolvedHead], truth: GroundTruth)] = [:]

    init(path: String) throws(ClusterError) {
        do { dataset = try Dataset(path: path) } catch { throw .data(path: path, reason: "\(error)") }
    }

    var fingerprint: String { dataset.fingerprint }

    /// Checks the file against its fingerprint (once per file with a cache), logging what
    /// it cost. A file whose content does not match, or that fails a chunk checksum, is an
    /// error: a worker never computes on data other than the run's.
    func verify(with verifier: DatasetVerifier, logger: Logger) throws(ClusterError) {
        if verifier.isRemembered(dataset) { return }
        logger.info("verifying \(path) against its fingerprint \(fingerprint) (once per file)")
        let outcome: DatasetVerifier.Outcome
        do { outcome = try verifier.verify(dataset) } catch { throw .data(path: path, reason: "\(error)") }
        if let c = outcome.check {
            logger.info("\(path): fingerprint verified: \(c.bytes / 1_000_000) MB in \(String(format: "%.2f", c.seconds)) s (\(Int(c.megabytesPerSecond)) MB/s)")
        }
        if let problem = outcome.cacheProblem { logger.warning("\(path) verified but not remembered: \(problem)") }
    }

    /// Size of the file in bytes (0 when unknown).
    var fileSize: Int64 { (try? dataset.fileStatus().size) ?? 0 }
    var path: String { dataset.path }

    /// Images (n, H, W, C), per-head labels and targets of `ids` of `split`.
    func load(split name: String, ids: [Int], heads: [ResolvedHead]) throws(ClusterError) -> ShardData {
        do {
            let split = try dataset.split(name)
            if let bad = ids.first(where: { $0 < 0 || $0 >= split.count }) {
                throw ClusterError.data(path: path, reason: "sample \(bad) is outside split '\(name)' (\(split.count) samples)")
            }
            let images = try split.readImages(indices: ids)
            if truthCache[name]?.heads != heads { truthCache[name] = (heads, try GroundTruth.read(split, heads: heads)) }
            let truth = truthCache[name]!.truth.rows(ids)
            return ShardData(count: ids.count, images: images, labels: truth.labels, targets: truth.targets)
        } catch let error as ClusterError {
            throw error
        } catch {
            throw .data(path: path, reason: "\(error)")
        }
    }
}
