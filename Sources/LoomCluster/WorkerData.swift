// A worker's own copy of the dataset: images and labels of the train split by index.

import LoomData
import LoomTraining

/// The dataset file a worker reads samples from instead of receiving them.
final class WorkerData {
    let dataset: Dataset
    private var labelCache: [String: [[Int32]]] = [:]

    init(path: String) throws(ClusterError) {
        do { dataset = try Dataset(path: path) } catch { throw .data(path: path, reason: "\(error)") }
    }

    var fingerprint: String { dataset.fingerprint }
    var path: String { dataset.path }

    /// Images (n, H, W, C) and per-head labels of `ids` of `split`.
    func load(split name: String, ids: [Int], heads: [ResolvedHead]) throws(ClusterError) -> ShardData {
        do {
            let split = try dataset.split(name)
            if let bad = ids.first(where: { $0 < 0 || $0 >= split.count }) {
                throw ClusterError.data(path: path, reason: "sample \(bad) is outside split '\(name)' (\(split.count) samples)")
            }
            let images = try split.readImages(indices: ids)
            if labelCache[name] == nil { labelCache[name] = try heads.map { try split.labels($0.attribute) } }
            let labels = labelCache[name]!.map { all in ids.map { all[$0] } }
            return ShardData(sampleIDs: ids, images: images, labels: labels)
        } catch let error as ClusterError {
            throw error
        } catch {
            throw .data(path: path, reason: "\(error)")
        }
    }
}
