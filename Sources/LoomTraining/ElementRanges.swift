// Which elements of a flat buffer are in hand: a set of integer ranges, kept as sorted,
// disjoint, non-touching ranges. Overlap (docs/CLUSTER.md, "Overlap") moves gradients and
// weights range by range: a server tracks which ranges of each piece's gradient it holds,
// which ranges of its slice it has updated and whom it sent them to; a worker tracks which
// ranges of a weights version arrived. Everything is a pure value, so the bookkeeping is
// unit-tested apart from sockets (`ElementRangesTests`).

/// A set of `Int` elements stored as ranges: `[0, 4) ∪ [8, 9)`.
public struct ElementRanges: Equatable, Sendable, CustomStringConvertible {
    /// Sorted, disjoint, non-empty, and no two touching (`a.upperBound < b.lowerBound`).
    public private(set) var ranges: [Range<Int>] = []

    public init() {}

    public init(_ range: Range<Int>) { insert(range) }

    public init<S: Sequence>(_ ranges: S) where S.Element == Range<Int> {
        for r in ranges { insert(r) }
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Elements held.
    public var count: Int { ranges.reduce(0) { $0 + $1.count } }

    public var description: String {
        ranges.isEmpty ? "∅" : ranges.map { "[\($0.lowerBound), \($0.upperBound))" }.joined(separator: " ∪ ")
    }

    /// Adds `range` (merging with the ranges it overlaps or touches).
    public mutating func insert(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        var lower = range.lowerBound, upper = range.upperBound
        var kept: [Range<Int>] = []
        kept.reserveCapacity(ranges.count + 1)
        var placed = false
        for r in ranges {
            if r.upperBound < lower {
                kept.append(r)
            } else if r.lowerBound > upper {
                if !placed { kept.append(lower..<upper); placed = true }
                kept.append(r)
            } else {
                lower = min(lower, r.lowerBound)
                upper = max(upper, r.upperBound)
            }
        }
        if !placed { kept.append(lower..<upper) }
        ranges = kept
    }

    /// Whether every element of `range` is held (an empty range always is).
    public func contains(_ range: Range<Int>) -> Bool {
        guard !range.isEmpty else { return true }
        return ranges.contains { $0.lowerBound <= range.lowerBound && range.upperBound <= $0.upperBound }
    }

    public func union(_ other: ElementRanges) -> ElementRanges {
        var result = self
        for r in other.ranges { result.insert(r) }
        return result
    }

    public func intersection(_ other: ElementRanges) -> ElementRanges {
        var result = ElementRanges()
        var i = 0, j = 0
        while i < ranges.count && j < other.ranges.count {
            let a = ranges[i], b = other.ranges[j]
            let lower = max(a.lowerBound, b.lowerBound), upper = min(a.upperBound, b.upperBound)
            if lower < upper { result.ranges.append(lower..<upper) }
            if a.upperBound < b.upperBound { i += 1 } else { j += 1 }
        }
        return result
    }

    /// The elements of `self` that are not in `other`.
    public func subtracting(_ other: ElementRanges) -> ElementRanges {
        var result = ElementRanges()
        for r in ranges {
            var lower = r.lowerBound
            for o in other.ranges where o.upperBound > lower && o.lowerBound < r.upperBound {
                if o.lowerBound > lower { result.ranges.append(lower..<o.lowerBound) }
                lower = max(lower, o.upperBound)
            }
            if lower < r.upperBound { result.ranges.append(lower..<r.upperBound) }
        }
        return result
    }

    /// The bounds of every range, sorted and unique: where a held run starts or ends.
    public var boundaries: [Int] { ranges.flatMap { [$0.lowerBound, $0.upperBound] } }

    /// `self`'s ranges cut at every point of `cuts` strictly inside one of them, in order:
    /// pieces that each lie wholly inside or wholly outside any set whose boundaries are
    /// among `cuts`.
    public func pieces(cutAt cuts: [Int]) -> [Range<Int>] {
        let sorted = Array(Set(cuts)).sorted()
        var result: [Range<Int>] = []
        for r in ranges {
            var lower = r.lowerBound
            for c in sorted where c > lower && c < r.upperBound {
                result.append(lower..<c)
                lower = c
            }
            result.append(lower..<r.upperBound)
        }
        return result
    }

    /// `range` cut into consecutive pieces of at most `limit` elements (limit ≥ 1).
    public static func chunks(of range: Range<Int>, limit: Int) -> [Range<Int>] {
        precondition(limit >= 1, "chunks of at most \(limit)")
        return stride(from: range.lowerBound, to: range.upperBound, by: limit).map { $0..<min($0 + limit, range.upperBound) }
    }
}
