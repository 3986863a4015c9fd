// What every head is trained and evaluated against, read from a dataset split and checked
// once: class labels for softmax and binary heads, dense targets for multilabel heads.
//
//   softmax     /<split>/labels/<attribute>   int32 (N), -1 = not labelled
//   binary      /<split>/labels/<attribute>   int32 (N), 0/1, -1 = not labelled; or, when the
//               split has no such labels, /<split>/targets/<attribute> float32 (N, 1) with
//               values 0, 1 or missing, read as labels 0, 1, -1
//   multilabel  /<split>/targets/<attribute>  float32 (N, K), K = the attribute's class_names;
//               values in [0, 1] (soft targets allowed), missing = NaN or -1
//
// Missing target elements are stored as NaN in memory, whatever the file used, so the
// losses and metrics see one rule: NaN masks that element (HeadTargets.dense).

import LoomData

/// Labels and targets of a list of samples (a split, a batch, a block), per head.
public struct GroundTruth: Equatable, Sendable {
    /// Samples covered.
    public let count: Int
    /// Per head: `count` class labels (-1 = not labelled); all -1 for heads with targets.
    public var labels: [[Int32]]
    /// Per head: `(count, K)` targets row-major, NaN = not labelled; empty for label heads.
    public var targets: [[Float]]

    /// Labels only (every head trained on class labels).
    public init(labels: [[Int32]]) {
        count = labels.first?.count ?? 0
        self.labels = labels
        targets = Array(repeating: [], count: labels.count)
    }

    /// Labels and targets per head; `targets[h]` empty for heads trained on labels.
    public init(count: Int, labels: [[Int32]], targets: [[Float]]) {
        self.count = count; self.labels = labels; self.targets = targets
    }

    /// The rows `indices` (any order, repeats allowed).
    public func rows<C: Collection>(_ indices: C) -> GroundTruth where C.Element == Int {
        let n = indices.count
        let selectedLabels = labels.map { all in indices.map { all[$0] } }
        let selectedTargets = targets.map { (all: [Float]) -> [Float] in
            guard !all.isEmpty, count > 0 else { return [] }
            let k = all.count / count
            var out = [Float](repeating: 0, count: n * k)
            for (r, i) in indices.enumerated() {
                for j in 0..<k { out[r * k + j] = all[i * k + j] }
            }
            return out
        }
        return GroundTruth(count: n, labels: selectedLabels, targets: selectedTargets)
    }

    /// Deterministic stand-ins for benchmarks: on label heads sample i has class i mod K;
    /// on heads with targets, label j of sample i is on when (i + j) mod 3 == 0.
    public static func synthetic(heads: [ResolvedHead], count: Int) -> GroundTruth {
        let labels = heads.map { h in (0..<count).map { h.usesTargets ? -1 : Int32($0 % max(h.classes, 1)) } }
        let targets = heads.map { h -> [Float] in
            guard h.usesTargets else { return [] }
            return (0..<(count * h.classes)).map { e in (e / h.classes + e % h.classes) % 3 == 0 ? 1 : 0 }
        }
        return GroundTruth(count: count, labels: labels, targets: targets)
    }

    /// Reads every sample of `split` for `heads` (see the file comment for the rules).
    /// - Throws: a `TrainingError` naming the head, the file and the object when an array is
    ///   missing, has the wrong K, or holds a value the head cannot learn from.
    public static func read(_ split: DatasetSplit, heads: [ResolvedHead]) throws(TrainingError) -> GroundTruth {
        var labels: [[Int32]] = []
        var targets: [[Float]] = []
        for head in heads {
            if head.usesTargets {
                targets.append(try readTargets(split, head: head, width: head.classes))
                labels.append([Int32](repeating: -1, count: split.count))
            } else if head.kind == .binary && !split.labelNames.contains(head.attribute)
                        && split.targetNames.contains(head.attribute) {
                labels.append(try binaryLabels(split, head: head))
                targets.append([])
            } else {
                do { labels.append(try split.labels(head.attribute)) } catch {
                    throw .headData(head: head.name, kind: head.kind, cause: error)
                }
                targets.append([])
            }
        }
        return GroundTruth(count: split.count, labels: labels, targets: targets)
    }

    /// The rule every target value keeps once read (a file's -1 is NaN by then): in [0, 1]
    /// (soft targets allowed), or NaN for not labelled. Workers apply it to the targets of
    /// the sample records they receive, so nothing trains on a value the loader would refuse.
    public static func isValidTarget(_ v: Float) -> Bool {
        v.isNaN || (v >= 0 && v <= 1)
    }

    /// The (N, K) targets of a head, missing elements as NaN.
    private static func readTargets(_ split: DatasetSplit, head: ResolvedHead, width k: Int) throws(TrainingError) -> [Float] {
        let object = "/\(split.name)/targets/\(head.attribute)"
        let read: (k: Int, values: [Float])?
        do { read = try split.targets(head.attribute) } catch {
            throw .headData(head: head.name, kind: head.kind, cause: error)
        }
        guard let read else {
            throw .labels(head: head.name, kind: head.kind, reason: "\(split.path) has no \(object) (float32 [N, \(k)]);"
                                + " split '\(split.name)' has targets [\(split.targetNames.joined(separator: ", "))]"
                                + " and labels [\(split.labelNames.joined(separator: ", "))]")
        }
        guard read.k == k else {
            let why = head.usesTargets ? " (the \(head.classNames.count) class_names of /attributes/\(head.attribute))" : ""
            throw .labels(head: head.name, kind: head.kind, reason: "\(split.path) \(object) has K = \(read.k) columns,"
                                + " the head has \(k) output(s)\(why)")
        }
        var values = read.values
        for e in values.indices where !values[e].isNaN {
            let v = values[e]
            if v == -1 { values[e] = .nan; continue }
            guard isValidTarget(v) else {
                throw .labels(head: head.name, kind: head.kind, reason: "\(split.path) \(object)[\(e / k), \(e % k)] is \(v);"
                                    + " targets must be in [0, 1], or NaN / -1 for not labelled")
            }
        }
        return values
    }

    /// A binary head's labels from an (N, 1) target: 0 -> 0, 1 -> 1, NaN or -1 -> -1.
    private static func binaryLabels(_ split: DatasetSplit, head: ResolvedHead) throws(TrainingError) -> [Int32] {
        let values = try readTargets(split, head: head, width: 1)
        var labels = [Int32](repeating: -1, count: values.count)
        for (i, v) in values.enumerated() where !v.isNaN {
            guard v == 0 || v == 1 else {
                throw .labels(head: head.name, kind: .binary, reason: "\(split.path) /\(split.name)/targets/\(head.attribute)[\(i), 0]"
                                    + " is \(v); a binary target must be 0, 1 or missing (use a multilabel head of 1 label for soft targets)")
            }
            labels[i] = Int32(v)
        }
        return labels
    }
}
