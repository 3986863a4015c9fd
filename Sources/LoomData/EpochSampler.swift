// The coordinator's sample order. ARCHITECTURE.md, invariant 1: the batch of step k in epoch e is
// a pure function of (seed, e, k), so a resumed coordinator and any number of workers see
// the same samples. Nothing here depends on how often or in which order it is called.

import Foundation
import LoomConfig
import LoomKernels

/// Plans which samples make up each global batch of each epoch.
///
/// Plain mode: every epoch is a seeded permutation of `indices`
/// (`KeyedRandom(seed:, purpose: .shuffle, keys: [epoch])`); the last incomplete batch is
/// dropped, so each index appears at most once per epoch and exactly once among the
/// `stepsPerEpoch * batchSize` leading positions of `epochOrder`.
///
/// Oversampling mode: each epoch draws `indices.count` samples with replacement
/// (`purpose: .oversampling, keys: [epoch]`) so that class frequencies follow the target:
/// `uniform` gives each class present equal mass, `sqrt` mass proportional to
/// sqrt(class count). Unlabelled samples (label -1) keep their natural rate: they get the
/// mass `unlabelled / indices.count` and the classes share the rest. We keep them because
/// their other heads still carry signal and the masked losses must see them.
public struct EpochSampler: Sendable {
    /// Global sample indices (into the split) this sampler draws from.
    public let indices: [Int]
    public let batchSize: Int
    public let seed: UInt64
    private let groups: OversampleGroups?
    private let cache = EpochOrderCache()

    /// - Parameters:
    ///   - indices: sample indices of the split to draw from (e.g. the carved train set).
    ///   - batchSize: global batch B (> 0).
    ///   - oversample: labels of the *whole split*, indexed by sample index (as returned by
    ///     `DatasetSplit.labels`), and the target distribution. Indices beyond the label
    ///     array count as unlabelled.
    public init(indices: [Int], batchSize: Int, seed: UInt64,
                oversample: (labels: [Int32], target: OversampleConfig.Target)? = nil) {
        self.indices = indices
        self.batchSize = max(1, batchSize)
        self.seed = seed
        if let o = oversample {
            groups = OversampleGroups(indices: indices, labels: o.labels, target: o.target)
        } else {
            groups = nil
        }
    }

    /// Optimizer steps per epoch: full batches only.
    public var stepsPerEpoch: Int { indices.count / batchSize }

    /// Whether epochs are drawn with replacement to rebalance classes.
    public var isOversampling: Bool { groups != nil }

    /// The B global sample indices of `step` (0-based) in `epoch`; empty if `step` is out
    /// of range.
    public func batch(epoch: Int, step: Int) -> [Int] {
        guard step >= 0, step < stepsPerEpoch else { return [] }
        let order = cachedOrder(epoch: epoch)
        return Array(order[(step * batchSize)..<((step + 1) * batchSize)])
    }

    /// The whole order of `epoch` (length `indices.count`; only the first
    /// `stepsPerEpoch * batchSize` entries are used).
    public func epochOrder(epoch: Int) -> [Int] {
        if let groups {
            var rng = KeyedRandom(seed: seed, purpose: .oversampling, keys: [UInt64(bitPattern: Int64(epoch))])
            return groups.draw(count: indices.count, rng: &rng)
        }
        var order = indices
        var rng = KeyedRandom(seed: seed, purpose: .shuffle, keys: [UInt64(bitPattern: Int64(epoch))])
        rng.shuffle(&order)
        return order
    }

    private func cachedOrder(epoch: Int) -> [Int] {
        if let hit = cache.get(epoch: epoch) { return hit }
        let order = epochOrder(epoch: epoch)
        cache.set(epoch: epoch, order: order)
        return order
    }
}

/// Samples grouped by class with each group's share of an oversampled epoch.
struct OversampleGroups: Sendable {
    /// Members of each group; group 0 is the unlabelled samples (may be empty).
    let members: [[Int]]
    /// Cumulative probability of groups, last = 1.
    let cumulative: [Double]

    init(indices: [Int], labels: [Int32], target: OversampleConfig.Target) {
        var byClass: [Int: [Int]] = [:]
        var unlabelled: [Int] = []
        for i in indices {
            let l = (i >= 0 && i < labels.count) ? Int(labels[i]) : -1
            if l < 0 { unlabelled.append(i) } else { byClass[l, default: []].append(i) }
        }
        let classes = byClass.keys.sorted()
        var members = [unlabelled]
        var mass = [Double(unlabelled.count) / Double(max(1, indices.count))]
        let labelledMass = 1 - mass[0]
        let weights = classes.map { c -> Double in
            let n = Double(byClass[c]!.count)
            return target == .uniform ? 1 : n.squareRoot()
        }
        let total = weights.reduce(0, +)
        for (c, w) in zip(classes, weights) {
            members.append(byClass[c]!)
            mass.append(total > 0 ? labelledMass * w / total : 0)
        }
        var acc = 0.0
        var cumulative: [Double] = []
        for m in mass { acc += m; cumulative.append(acc) }
        if !cumulative.isEmpty { cumulative[cumulative.count - 1] = 1 }
        self.members = members
        self.cumulative = cumulative
    }

    func draw(count: Int, rng: inout KeyedRandom) -> [Int] {
        guard members.contains(where: { !$0.isEmpty }) else { return [] }
        var out: [Int] = []
        out.reserveCapacity(count)
        while out.count < count {
            let u = rng.nextDouble()
            var lo = 0, hi = cumulative.count - 1
            while lo < hi {   // first group whose cumulative mass exceeds u
                let mid = (lo + hi) / 2
                if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
            }
            let group = members[lo]
            if group.isEmpty { continue }   // zero-mass groups are never chosen; guard anyway
            out.append(group[rng.nextInt(below: group.count)])
        }
        return out
    }
}

/// The most recently used epoch order: `batch` is called every step of an epoch, and
/// rebuilding a 60000-sample permutation each time would dominate the coordinator.
final class EpochOrderCache: @unchecked Sendable {
    private let lock = NSLock()
    private var epoch: Int?
    private var order: [Int] = []

    func get(epoch: Int) -> [Int]? {
        lock.withLock { self.epoch == epoch ? order : nil }
    }

    func set(epoch: Int, order: [Int]) {
        lock.withLock { self.epoch = epoch; self.order = order }
    }
}
