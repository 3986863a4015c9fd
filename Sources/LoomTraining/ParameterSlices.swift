// The flat parameter vector cut into S contiguous slices, one per shard server (issue 20,
// docs/CLUSTER.md, "Shard servers").
//
// Slices are cut on 16-float boundaries (one cache line, one vector of Loom's widest
// kernels), not on tensor boundaries: the optimizers are elementwise (Optimizer.swift), so
// any cut gives the same bits, and nearly equal slices balance the servers' links. The
// cut is a pure function of (P, S):
//
//   units = ceil(P / 16)                 16-float units, the last one possibly short
//   slice s = [16 * floor(units * s / S), 16 * floor(units * (s + 1) / S)) clamped to P
//
// so slice sizes differ by at most 16 floats, and a slice is empty only when S > units.
// What the optimizer knows per element (`ParameterGroup`: learning-rate scale, weight
// decay, first trained step) is a list of ranges of the flat buffer; a server's groups are
// those ranges intersected with its slice and shifted to start at 0.

// With overlap the cut is by buckets (`ParameterSlices(…, buckets:)`): the parameters are
// first cut into buckets, ranges that the backward pass finishes at about the same time, and
// each bucket is cut as above into k = min(S, ⌊floats / 8192⌋) pieces (at least one), which
// go to the next k slices in turn: the first bucket to the last k slices (away from slice 0,
// whose server sits beside the coordinator), the next from slice 0 on. Slice s is then the
// concatenation of its pieces in parameter order: contiguous in the *layout* (slice 0's
// pieces, then slice 1's, ...), a set of ranges in the parameters. Without buckets the
// layout is the parameters' order and each slice one range, as before. Why: the first
// layers' gradients come last in a backward pass; cut whole, they all belong to slice 0, so
// the step's last gradients converge on one server's link and its new weights leave by that
// link alone (7 × 76 KB each way at 8 hosts for the reference CNN's convolutions, 8.5 ms on
// 1 Gbit/s). Cut by buckets, two servers hold half of them each (docs/CLUSTER.md, "Overlap").

/// The cut of `parameterCount` floats into `count` slices, each contiguous in the layout.
public struct ParameterSlices: Equatable, Sendable {
    /// Floats per alignment unit.
    public static let alignment = 16
    /// A bucket is at least this many floats per slice (`buckets(of:parameterCount:count:)`).
    public static let bucketFloatsPerSlice = 2048
    /// A bucket's pieces are at least this many floats (all S of them when it is large
    /// enough): each piece costs every worker a message to its server and one back, so a
    /// small bucket goes to fewer servers.
    public static let pieceFloats = 8192

    /// How many pieces a bucket of `floats` is cut into among `slices` slices.
    public static func pieceCount(_ floats: Int, slices: Int) -> Int {
        max(1, min(slices, floats / pieceFloats))
    }
    public let parameterCount: Int
    public let count: Int
    /// Interior bucket boundaries, ascending, each in 1 ..< parameterCount (empty: one bucket).
    public let buckets: [Int]
    /// Each slice's pieces (ranges of the parameters, ascending), and where each slice starts
    /// in the layout.
    private let table: [[Range<Int>]]
    private let offsets: [Int]

    /// - Precondition: `parameterCount >= 0`, `count >= 1`, `buckets` ascending inside
    ///   1 ..< parameterCount.
    public init(parameterCount: Int, count: Int, buckets: [Int] = []) {
        precondition(parameterCount >= 0 && count >= 1, "ParameterSlices(\(parameterCount), \(count))")
        precondition(Self.validBuckets(buckets, parameterCount: parameterCount), "buckets \(buckets) of \(parameterCount)")
        self.parameterCount = parameterCount
        self.count = count
        self.buckets = buckets
        let bounds = [0] + buckets + [parameterCount]
        var table = [[Range<Int>]](repeating: [], count: count)
        if buckets.isEmpty {
            for s in 0..<count { table[s].append(Self.cut(0..<parameterCount, count: count, s)) }
        } else {
            // Bucket by bucket from the first parameter, each cut into k pieces that go to
            // the next k slices in turn (k = S, or fewer for a small bucket). The first
            // bucket, the one the backward pass finishes last, goes to the last k slices:
            // its round trip is the step's tail, and slice 0's server is the one placed
            // beside the coordinator, whose messages of the step's end and start must not
            // queue behind it on that host's link (docs/SCALING.md, "The tail").
            var next = 0
            for (lower, upper) in zip(bounds, bounds.dropFirst()) {
                let k = Self.pieceCount(upper - lower, slices: count)
                if lower == 0 { next = (count - k) % count }
                for i in 0..<k {
                    let piece = Self.cut(lower..<upper, count: k, i)
                    if !piece.isEmpty { table[(next + i) % count].append(piece) }
                }
                next = (next + k) % count
            }
        }
        var offsets = [0]
        for pieces in table { offsets.append(offsets.last! + pieces.reduce(0) { $0 + $1.count }) }
        self.table = table
        self.offsets = offsets
    }

    /// Whether `buckets` are interior boundaries of `parameterCount` floats, ascending.
    public static func validBuckets(_ buckets: [Int], parameterCount: Int) -> Bool {
        zip([0] + buckets, buckets + [parameterCount]).allSatisfy { $0 < $1 }
    }

    /// Piece `s` of `count` of `range`: 16-float units from the range's start.
    private static func cut(_ range: Range<Int>, count: Int, _ s: Int) -> Range<Int> {
        let units = (range.count + alignment - 1) / alignment
        func bound(_ i: Int) -> Int { range.lowerBound + min(range.count, alignment * (units * i / count)) }
        return bound(s)..<bound(s + 1)
    }

    /// Slice `s` (0 ..< count) in the layout; without buckets, in the parameters.
    public func range(_ s: Int) -> Range<Int> {
        precondition((0..<count).contains(s), "slice \(s) of \(count)")
        return offsets[s]..<offsets[s + 1]
    }

    /// Every slice, in order: they cover 0 ..< parameterCount of the layout without overlap.
    public var ranges: [Range<Int>] { (0..<count).map(range) }

    /// Slice `s`'s ranges of the parameters, ascending; their concatenation is the slice.
    public func pieces(_ s: Int) -> [Range<Int>] { table[s] }

    /// Where `parameters` (a range of the parameters) lies: per slice it touches, in slice
    /// order, each part as a range of the parameters and the same elements in the layout.
    public func locate(_ parameters: Range<Int>) -> [(slice: Int, parameters: Range<Int>, layout: Range<Int>)] {
        var out: [(slice: Int, parameters: Range<Int>, layout: Range<Int>)] = []
        for s in 0..<count {
            var at = offsets[s]
            for piece in table[s] {
                let lower = max(piece.lowerBound, parameters.lowerBound), upper = min(piece.upperBound, parameters.upperBound)
                if lower < upper {
                    let start = at + lower - piece.lowerBound
                    out.append((s, lower..<upper, start..<(start + upper - lower)))
                }
                at += piece.count
            }
        }
        return out
    }

    /// Slice `s` of `values` (a vector of the parameters), in the layout's order.
    public func gather(_ values: [Float], slice s: Int) -> [Float] {
        if table[s].count == 1 { return Array(values[table[s][0]]) }
        var out: [Float] = []
        out.reserveCapacity(range(s).count)
        for piece in table[s] { out.append(contentsOf: values[piece]) }
        return out
    }

    /// Writes `slice` (slice `s`, in the layout's order) into `values` (the parameters).
    public func scatter(_ slice: ArraySlice<Float>, slice s: Int, into values: inout [Float]) {
        var at = slice.startIndex
        for piece in table[s] {
            values.replaceSubrange(piece, with: slice[at..<(at + piece.count)])
            at += piece.count
        }
    }

    /// `groups` (ranges of the flat buffer) restricted to slice `s`, in the slice's own
    /// offsets (from 0): the groups of an optimizer over that slice alone.
    public func groups(_ groups: [ParameterGroup], inSlice s: Int) -> [ParameterGroup] {
        var out: [ParameterGroup] = []
        var at = 0
        for piece in table[s] {
            for g in groups {
                let lower = max(g.range.lowerBound, piece.lowerBound), upper = min(g.range.upperBound, piece.upperBound)
                guard lower < upper else { continue }
                var local = g
                local.range = (at + lower - piece.lowerBound)..<(at + upper - piece.lowerBound)
                out.append(local)
            }
            at += piece.count
        }
        return out
    }

    /// The buckets of a model whose backward pass reports `spans` (ranges of the parameters,
    /// any order): the spans' boundaries, merged from the first parameter up (the layers the
    /// backward pass finishes last) into buckets of at least `bucketFloatsPerSlice × count`
    /// floats; a short remainder at the top joins the bucket below it. One slice: none.
    public static func buckets(of spans: [Range<Int>], parameterCount: Int, count: Int) -> [Int] {
        guard count > 1 else { return [] }
        let least = bucketFloatsPerSlice * count
        let edges = Set(spans.flatMap { [$0.lowerBound, $0.upperBound] }).filter { $0 > 0 && $0 < parameterCount }.sorted()
        var out: [Int] = []
        var start = 0
        for edge in edges where edge - start >= least {
            out.append(edge)
            start = edge
        }
        if let last = out.last, parameterCount - last < least { out.removeLast() }
        return out
    }
}

extension Optimizer {
    /// An optimizer over slice `s` of `slices` alone, with this optimizer's config and its
    /// groups intersected with the slice: stepping it on the slice of the weights and of the
    /// gradients gives the bits this optimizer gives on those elements.
    public func slice(_ s: Int, of slices: ParameterSlices) throws(OptimizerError) -> Optimizer {
        guard slices.parameterCount == parameterCount else {
            throw OptimizerError("slices of \(slices.parameterCount) parameters for an optimizer of \(parameterCount)")
        }
        return try Optimizer(config: config, parameterCount: slices.range(s).count,
                             groups: slices.groups(groups, inSlice: s))
    }

    /// This optimizer's state restricted to `range` (its slots' elements there; the step
    /// count as it is).
    public func state(in range: Range<Int>) -> OptimizerState {
        let whole = state
        return OptimizerState(slots: whole.slots.mapValues { Array($0[range]) }, step: whole.step)
    }

    /// This optimizer's state restricted to slice `s` of `slices`, in the slice's order.
    public func state(inSlice s: Int, of slices: ParameterSlices) -> OptimizerState {
        let whole = state
        return OptimizerState(slots: whole.slots.mapValues { slices.gather($0, slice: s) }, step: whole.step)
    }
}
