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

/// The cut of `parameterCount` floats into `count` contiguous, 16-float-aligned slices.
public struct ParameterSlices: Equatable, Sendable {
    /// Floats per alignment unit.
    public static let alignment = 16
    public let parameterCount: Int
    public let count: Int

    /// - Precondition: `parameterCount >= 0`, `count >= 1`.
    public init(parameterCount: Int, count: Int) {
        precondition(parameterCount >= 0 && count >= 1, "ParameterSlices(\(parameterCount), \(count))")
        self.parameterCount = parameterCount
        self.count = count
    }

    /// Slice `s` (0 ..< count) of the flat buffer.
    public func range(_ s: Int) -> Range<Int> {
        precondition((0..<count).contains(s), "slice \(s) of \(count)")
        let units = (parameterCount + Self.alignment - 1) / Self.alignment
        func bound(_ i: Int) -> Int { min(parameterCount, Self.alignment * (units * i / count)) }
        return bound(s)..<bound(s + 1)
    }

    /// Every slice, in order: they cover 0 ..< parameterCount without overlap.
    public var ranges: [Range<Int>] { (0..<count).map(range) }

    /// `groups` (ranges of the flat buffer) restricted to slice `s`, shifted so that the
    /// slice starts at 0: the groups of an optimizer over that slice alone.
    public func groups(_ groups: [ParameterGroup], inSlice s: Int) -> [ParameterGroup] {
        let slice = range(s)
        return groups.compactMap { g in
            let lower = max(g.range.lowerBound, slice.lowerBound), upper = min(g.range.upperBound, slice.upperBound)
            guard lower < upper else { return nil }
            var local = g
            local.range = (lower - slice.lowerBound)..<(upper - slice.lowerBound)
            return local
        }
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
}
