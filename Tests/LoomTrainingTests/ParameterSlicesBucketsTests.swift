// Slices by buckets (overlap): each bucket of the parameters is cut into one piece per
// slice, and a slice is its pieces end to end, contiguous in the layout. The layout must
// cover every parameter once, map ranges both ways consistently, and keep the optimizer's
// bits.

import Foundation
import LoomConfig
import LoomTraining
import Testing

struct ParameterSlicesBucketsTests {
    /// The reference CNN's layers in the order its backward pass reports them: f2, f1, b2,
    /// c2, b1, c1 (docs/SCALING.md, "The compute stand-in").
    private let referenceSpans = [420_544..<421_834, 19_008..<420_544, 18_880..<19_008, 384..<18_880, 320..<384, 0..<320]

    @Test func theReferenceCNNsConvolutionsAreABucketOfTheirOwn() {
        #expect(ParameterSlices.buckets(of: referenceSpans, parameterCount: 421_834, count: 8) == [18_880])
        #expect(ParameterSlices.buckets(of: referenceSpans, parameterCount: 421_834, count: 1) == [])
        // Buckets of at least 2048 floats a slice: at 64 slices the convolutions are too few.
        #expect(ParameterSlices.buckets(of: referenceSpans, parameterCount: 421_834, count: 64) == [])
    }

    /// The convolutions (18 880 floats) make two pieces of at least 8192, on the last two
    /// slices, 6 and 7 (away from slice 0, beside the coordinator); the rest is cut in 8
    /// pieces of 16-float units (the last with the short unit), from slice 0 on in turn.
    @Test func theLastBucketIsSpreadAsFarAsItsSizeAllows() {
        let slices = ParameterSlices(parameterCount: 421_834, count: 8, buckets: [18_880])
        #expect(slices.pieces(6).first == 0..<9440)
        #expect(slices.pieces(7).first == 9440..<18_880)
        #expect(slices.pieces(0) == [18_880..<(18_880 + slices.pieces(0)[0].count)])
        for s in 0..<8 {
            let pieces = slices.pieces(s)
            #expect(pieces.count == (s >= 6 ? 2 : 1), "slice \(s): \(pieces)")
            #expect(pieces.last!.lowerBound >= 18_880 && (50_352...50_378).contains(pieces.last!.count), "slice \(s): \(pieces)")
        }
        #expect(ParameterSlices.pieceCount(18_880, slices: 8) == 2)
        #expect(ParameterSlices.pieceCount(100, slices: 8) == 1)
        #expect(ParameterSlices.pieceCount(1 << 20, slices: 8) == 8)
    }

    @Test(arguments: [(1000, 3, [100, 400]), (421_834, 8, [18_880]), (97, 4, [1, 2, 96]), (50, 8, [10]), (64, 2, [])])
    func theLayoutCoversEveryParameterOnce(p: Int, s: Int, buckets: [Int]) {
        let slices = ParameterSlices(parameterCount: p, count: s, buckets: buckets)
        #expect(slices.ranges.first?.lowerBound == 0 && slices.ranges.last?.upperBound == p)
        for (a, b) in zip(slices.ranges, slices.ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        var seen = [Int](repeating: 0, count: p)
        for i in 0..<s {
            #expect(slices.pieces(i).reduce(0) { $0 + $1.count } == slices.range(i).count)
            for piece in slices.pieces(i) { for j in piece { seen[j] += 1 } }
        }
        #expect(seen.allSatisfy { $0 == 1 })
    }

    @Test func gatherAndScatterAreInverse() {
        let slices = ParameterSlices(parameterCount: 1000, count: 3, buckets: [100, 400])
        let values = (0..<1000).map { Float($0) }
        var back = [Float](repeating: -1, count: 1000)
        for s in 0..<3 {
            let slice = slices.gather(values, slice: s)
            #expect(slice.count == slices.range(s).count)
            slices.scatter(slice[...], slice: s, into: &back)
        }
        #expect(back == values)
    }

    /// Where `locate` puts a range's parts is where `gather` puts those elements.
    @Test(arguments: [(1000, 3, [100, 400]), (40_000, 4, [20_000])])
    func locatedPartsAgreeWithTheGatheredLayout(p: Int, s: Int, buckets: [Int]) {
        let slices = ParameterSlices(parameterCount: p, count: s, buckets: buckets)
        let values = (0..<p).map { Float($0) }
        let layout = (0..<s).flatMap { slices.gather(values, slice: $0) }
        for range in [0..<p, 0..<1, 99..<101, 350..<720, (p - 1)..<p, 120..<130, 9000..<31_000].filter({ $0.upperBound <= p }) {
            let parts = slices.locate(range)
            #expect(parts.reduce(0) { $0 + $1.parameters.count } == range.count, "\(range)")
            for part in parts {
                #expect(part.parameters.count == part.layout.count)
                #expect(slices.range(part.slice).contains(part.layout.lowerBound))
                #expect(Array(layout[part.layout]) == Array(values[part.parameters]), "\(range): \(part)")
            }
        }
    }

    /// Each slice stepped with its own optimizer over its gathered elements gives the bits
    /// of one optimizer over the whole vector, with groups that straddle buckets and pieces.
    @Test(arguments: [OptimizerConfig.Kind.sgd, .adamw])
    func slicedOptimizersByBucketsGiveTheBitsOfTheWholeOne(kind: OptimizerConfig.Kind) throws {
        var c = OptimizerConfig()
        c.kind = kind; c.momentum = 0.9; c.weightDecay = 1e-3
        let n = 1003
        let groups = [ParameterGroup(range: 5..<300, lrScale: 0.25, weightDecay: false),
                      ParameterGroup(range: 300..<700, trainsFromStep: 2), ParameterGroup(range: 900..<1003, lrScale: 2)]
        let whole = try Optimizer(config: c, parameterCount: n, groups: groups)
        let slices = ParameterSlices(parameterCount: n, count: 4, buckets: [64, 250, 800])
        let parts = try (0..<4).map { try whole.slice($0, of: slices) }
        var w = (0..<n).map { Float(sin(Double($0) * 0.37)) }
        var pieces = (0..<4).map { slices.gather(w, slice: $0) }
        for step in 0..<4 {
            let g = (0..<n).map { Float(cos(Double($0 * (step + 3)) * 0.11)) }
            try whole.step(weights: &w, gradients: g, lr: 0.01 * Double(step + 1))
            for i in 0..<4 { try parts[i].step(weights: &pieces[i], gradients: slices.gather(g, slice: i), lr: 0.01 * Double(step + 1)) }
        }
        var joined = [Float](repeating: 0, count: n)
        for i in 0..<4 { slices.scatter(pieces[i][...], slice: i, into: &joined) }
        #expect(joined.map(\.bitPattern) == w.map(\.bitPattern), "\(kind)")
        for i in 0..<4 {
            let state = whole.state(inSlice: i, of: slices)
            for name in whole.slotNames {
                #expect(parts[i].state.slots[name]!.map(\.bitPattern) == state.slots[name]!.map(\.bitPattern), "\(kind) slot \(name), slice \(i)")
            }
        }
    }
}
