// The cut of the flat parameter vector into shard servers' slices, and an optimizer over a
// slice: the arithmetic sharded aggregation's bitwise promise rests on.

import Foundation
import LoomConfig
import LoomTraining
import Testing

struct ParameterSlicesTests {
    @Test(arguments: [(0, 1), (1, 1), (15, 2), (16, 3), (421_834, 1), (421_834, 2), (421_834, 3), (421_834, 8), (100, 7), (33, 5)])
    func slicesCoverTheVectorInOrderOnSixteenFloatBoundaries(p: Int, s: Int) {
        let slices = ParameterSlices(parameterCount: p, count: s)
        let ranges = slices.ranges
        #expect(ranges.count == s)
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == p)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        for r in ranges where r.lowerBound < p { #expect(r.lowerBound % 16 == 0, "\(r) starts off a 16-float boundary") }
        // Balanced: sizes differ by at most one unit of 16 floats (the last may be short).
        let full = ranges.dropLast().map(\.count)
        if let lo = full.min(), let hi = full.max() { #expect(hi - lo <= 16, "\(ranges)") }
    }

    @Test func moreSlicesThanUnitsLeaveSomeEmpty() {
        let ranges = ParameterSlices(parameterCount: 20, count: 4).ranges
        #expect(ranges.map(\.count).reduce(0, +) == 20)
        #expect(ranges.filter(\.isEmpty).count == 2, "\(ranges)")
    }

    @Test func groupsAreIntersectedWithTheSliceAndShiftedToItsStart() {
        let slices = ParameterSlices(parameterCount: 64, count: 2)   // [0, 32), [32, 64)
        let groups = [ParameterGroup(range: 0..<10, lrScale: 0.5), ParameterGroup(range: 10..<40, weightDecay: false),
                      ParameterGroup(range: 40..<64, trainsFromStep: 3)]
        #expect(slices.groups(groups, inSlice: 0) == [ParameterGroup(range: 0..<10, lrScale: 0.5),
                                                      ParameterGroup(range: 10..<32, weightDecay: false)])
        #expect(slices.groups(groups, inSlice: 1) == [ParameterGroup(range: 0..<8, weightDecay: false),
                                                      ParameterGroup(range: 8..<32, trainsFromStep: 3)])
    }

    /// Stepping each slice with its own optimizer gives the bits of one optimizer over the
    /// whole vector, for every rule, with groups that straddle the cuts and one that starts
    /// training late, and the gathered state equals the whole one's.
    @Test(arguments: [OptimizerConfig.Kind.sgd, .adam, .adamw])
    func slicedOptimizersGiveTheBitsOfTheWholeOne(kind: OptimizerConfig.Kind) throws {
        var c = OptimizerConfig()
        c.kind = kind; c.momentum = 0.9; c.weightDecay = 1e-3; c.nesterov = false
        let n = 1003
        let groups = [ParameterGroup(range: 5..<300, lrScale: 0.25, weightDecay: false),
                      ParameterGroup(range: 300..<700, trainsFromStep: 2), ParameterGroup(range: 900..<1003, lrScale: 2)]
        let whole = try Optimizer(config: c, parameterCount: n, groups: groups)
        for s in [1, 2, 3, 8] {
            let slices = ParameterSlices(parameterCount: n, count: s)
            let parts = try (0..<s).map { try whole.slice($0, of: slices) }
            let wholeCopy = try Optimizer(config: c, parameterCount: n, groups: groups)
            var w = (0..<n).map { Float(sin(Double($0) * 0.37)) }
            var pieces = slices.ranges.map { Array(w[$0]) }
            for step in 0..<4 {
                let g = (0..<n).map { Float(cos(Double($0 * (step + 3)) * 0.11)) }
                try wholeCopy.step(weights: &w, gradients: g, lr: 0.01 * Double(step + 1))
                for (i, r) in slices.ranges.enumerated() {
                    try parts[i].step(weights: &pieces[i], gradients: Array(g[r]), lr: 0.01 * Double(step + 1))
                }
            }
            let joined = pieces.flatMap { $0 }
            #expect(joined.map(\.bitPattern) == w.map(\.bitPattern), "\(kind), \(s) slice(s)")
            for name in wholeCopy.slotNames {
                let gathered = parts.flatMap { $0.state.slots[name]! }
                #expect(gathered.map(\.bitPattern) == wholeCopy.state.slots[name]!.map(\.bitPattern), "\(kind) slot \(name), \(s) slice(s)")
            }
            #expect(parts.allSatisfy { $0.stepCount == wholeCopy.stepCount })
        }
    }

    @Test func theStateInARangeIsThatRangeOfEverySlot() throws {
        var c = OptimizerConfig()
        c.kind = .adam
        let opt = try Optimizer(config: c, parameterCount: 40)
        var w = [Float](repeating: 1, count: 40)
        try opt.step(weights: &w, gradients: (0..<40).map(Float.init), lr: 0.1)
        let part = opt.state(in: 16..<32)
        #expect(part.step == 1)
        #expect(part.slots["exp_avg"] == Array(opt.state.slots["exp_avg"]![16..<32]))
        #expect(part.slots["exp_avg_sq"] == Array(opt.state.slots["exp_avg_sq"]![16..<32]))
    }
}
