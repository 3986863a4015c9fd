// Overlap's bookkeeping (docs/CLUSTER.md, "Overlap"): sets of element ranges, a step's
// pieces arriving range by range, an optimizer stepped range by range, and a worker's block
// whose gradient is handed out during the backward pass. Each must give the bits of the
// whole-buffer way, which is what lets overlap keep the bitwise promise.

import Foundation
import LoomConfig
import LoomKernels
import LoomTestSupport
import LoomTraining
import Testing

struct ElementRangesTests {
    @Test func insertMergesOverlappingAndTouchingRanges() {
        var set = ElementRanges()
        set.insert(10..<20)
        set.insert(30..<40)
        set.insert(20..<25)          // touches [10, 20)
        set.insert(0..<0)            // empty: nothing
        #expect(set.ranges == [10..<25, 30..<40])
        set.insert(5..<35)           // spans the gap
        #expect(set.ranges == [5..<40])
        #expect(set.count == 35)
    }

    @Test func unionIntersectionAndDifferenceAreThoseOfTheElements() {
        let a = ElementRanges([0..<10, 20..<30, 40..<50])
        let b = ElementRanges([5..<25, 45..<60])
        func elements(_ s: ElementRanges) -> Set<Int> { Set(s.ranges.flatMap { Array($0) }) }
        let ea = elements(a), eb = elements(b)
        #expect(elements(a.union(b)) == ea.union(eb))
        #expect(elements(a.intersection(b)) == ea.intersection(eb))
        #expect(elements(a.subtracting(b)) == ea.subtracting(eb))
        #expect(a.intersection(b).ranges == [5..<10, 20..<25, 45..<50])
        #expect(a.subtracting(b).ranges == [0..<5, 25..<30, 40..<45])
        #expect(a.contains(20..<30) && !a.contains(25..<45) && a.contains(3..<3))
    }

    @Test func piecesCutAtTheGivenPointsInsideTheRangesOnly() {
        let set = ElementRanges([0..<10, 20..<30])
        #expect(set.pieces(cutAt: [5, 10, 15, 25, 25, 40]) == [0..<5, 5..<10, 20..<25, 25..<30])
        #expect(ElementRanges.chunks(of: 3..<10, limit: 3) == [3..<6, 6..<9, 9..<10])
    }
}

struct RangedPiecesTests {
    /// Deterministic gradients of the 7 leaves of a tree, 50 elements each.
    static func leaf(_ s: Int) -> [Float] { (0..<50).map { Float(sin(Double(s * 97 + $0) * 0.731)) * Float(s + 1) } }

    /// The tree's sum over all leaves, as the coordinator sums whole gradients.
    static func whole(leaves: Int) -> [Float] {
        ReductionTree.reduce(ShardBlock(start: 0, count: leaves), value: { $0.count == 1 ? leaf($0.start) : nil },
                             combine: { l, r in for i in l.indices { l[i] += r[i] } })!
    }

    /// A node's value: its leaves summed along the tree.
    static func node(_ b: ShardBlock) -> [Float] {
        ReductionTree.reduce(b, value: { $0.count == 1 ? leaf($0.start) : nil },
                             combine: { l, r in for i in l.indices { l[i] += r[i] } })!
    }

    @Test func rangesAreReadyOnlyWhenEveryLeafIsCoveredAndSumToTheWholeBits() {
        var pieces = RangedPieces(leaves: 7, length: 50)
        // Blocks [0,4) and [4,7) by ranges, last elements first, and [4,6) again by halves.
        let a = Self.node(ShardBlock(start: 0, count: 4)), b = Self.node(ShardBlock(start: 4, count: 3))
        pieces.take(ShardBlock(start: 0, count: 4), range: 30..<50, values: a[30..<50])
        #expect(pieces.ready.isEmpty)
        pieces.take(ShardBlock(start: 4, count: 3), range: 40..<50, values: b[40..<50])
        #expect(pieces.ready.ranges == [40..<50])
        pieces.take(ShardBlock(start: 4, count: 3), range: 10..<40, values: b[10..<40])
        #expect(pieces.ready.ranges == [30..<50])
        pieces.take(ShardBlock(start: 0, count: 4), range: 0..<30, values: a[0..<30])
        #expect(pieces.ready.ranges == [10..<50])
        // [4, 7) is not there for [0, 10): its halves [4, 6) and [6, 7) cover it instead.
        let c = Self.node(ShardBlock(start: 4, count: 2)), d = Self.node(ShardBlock(start: 6, count: 1))
        pieces.take(ShardBlock(start: 4, count: 2), range: 0..<10, values: c[0..<10])
        #expect(pieces.ready.ranges == [10..<50])
        pieces.take(ShardBlock(start: 6, count: 1), range: 0..<20, values: d[0..<20])
        #expect(pieces.ready.ranges == [0..<50])
        let whole = Self.whole(leaves: 7)
        var summed = [Float](repeating: .nan, count: 50)
        for r in pieces.ready.pieces(cutAt: pieces.boundaries) {
            summed.replaceSubrange(r, with: pieces.sum(r)!)
        }
        #expect(summed.map(\.bitPattern) == whole.map(\.bitPattern))
        // Uncut, as a server asks: the sum cuts where parts begin and end itself.
        #expect(pieces.sum(0..<50)?.map(\.bitPattern) == whole.map(\.bitPattern))
        #expect(pieces.sum(5..<45)?.map(\.bitPattern) == whole[5..<45].map(\.bitPattern))
    }

    @Test func aPieceThatIsNoNodeOfTheTreeOrDoesNotFitIsRefused() {
        var pieces = RangedPieces(leaves: 7, length: 50)
        let notANode = pieces.take(ShardBlock(start: 1, count: 2), range: 0..<5, values: [Float](repeating: 1, count: 5)[...])
        let tooLong = pieces.take(ShardBlock(start: 0, count: 4), range: 45..<55, values: [Float](repeating: 1, count: 10)[...])
        #expect(!notANode && !tooLong)
        #expect(pieces.isEmpty)
    }

    @Test func elementsHeldAlreadyAreKeptWhenAPieceComesAgain() {
        var pieces = RangedPieces(leaves: 1, length: 4)
        pieces.take(ShardBlock(start: 0, count: 1), range: 0..<2, values: [1, 2][...])
        pieces.take(ShardBlock(start: 0, count: 1), range: 0..<4, values: [9, 9, 3, 4][...])
        #expect(pieces.sum(0..<4) == [1, 2, 3, 4])
    }
}

struct OptimizerRangeStepTests {
    /// Stepping ranges in any order and then `finishStep` gives the bits of `step`, for
    /// every rule, with groups that straddle the ranges and one that trains from step 2.
    @Test(arguments: [OptimizerConfig.Kind.sgd, .adam, .adamw])
    func rangeByRangeGivesTheBitsOfOneStep(kind: OptimizerConfig.Kind) throws {
        var c = OptimizerConfig()
        c.kind = kind; c.momentum = 0.9; c.weightDecay = 1e-3
        let n = 1003
        let groups = [ParameterGroup(range: 5..<300, lrScale: 0.25, weightDecay: false),
                      ParameterGroup(range: 300..<700, trainsFromStep: 2)]
        let whole = try Optimizer(config: c, parameterCount: n, groups: groups)
        let ranged = try Optimizer(config: c, parameterCount: n, groups: groups)
        var w = (0..<n).map { Float(sin(Double($0) * 0.37)) }
        var v = w
        let cuts = [900..<1003, 0..<17, 250..<650, 17..<250, 650..<900]   // last layers first, unaligned
        for step in 0..<4 {
            let g = (0..<n).map { Float(cos(Double($0 * (step + 3)) * 0.11)) }
            try whole.step(weights: &w, gradients: g, lr: 0.01 * Double(step + 1))
            v.withUnsafeMutableBufferPointer { vp in
                g.withUnsafeBufferPointer { gp in
                    for r in cuts { ranged.step(weights: vp.baseAddress!, gradients: gp.baseAddress!, lr: 0.01 * Double(step + 1), elements: r) }
                }
            }
            ranged.finishStep()
        }
        #expect(v.map(\.bitPattern) == w.map(\.bitPattern), "\(kind)")
        for name in whole.slotNames {
            #expect(ranged.state.slots[name]!.map(\.bitPattern) == whole.state.slots[name]!.map(\.bitPattern), "\(kind) \(name)")
        }
        #expect(ranged.stepCount == whole.stepCount)
    }
}

@Suite(.serialized) struct OverlappedComputeTests {
    /// The ranges a block's gradient is handed out in during the backward pass cover every
    /// parameter once, come last layers first, and are bitwise the block's final sum; the
    /// result is bitwise the one `compute` gives. Blocks of 1 and of 3 micro-shards.
    @Test(arguments: [1, 3])
    func rangesPushedDuringBackwardAreTheBlocksSum(microShards: Int) throws {
        let dir = try TestPaths.temporaryDirectory("loom-overlap-compute")
        try SyntheticDataset.write(to: dir.path + "/data.h5")
        let run = try TrainingRunTests().makeRun(dir, ["training.batch_size=48", "training.micro_batch=16"])
        let executor = LocalExecutor(problem: run.problem, dataset: run.dataset)
        let plan = run.state.plan(step: 0)
        let block = ShardBlock(start: 0, count: microShards)
        let work = plan.work(block, seed: run.problem.config.training.seed)
        let data = try executor.load(split: "train", indices: work.sampleIDs)
        let expected = try ShardComputer(problem: run.problem, microBatch: plan.microBatch)
            .compute(work, data: data, parameters: run.state.parameters, buffers: run.state.buffers)
        var pushed: [(Range<Int>, [Float])] = []
        let result = try ShardComputer(problem: run.problem, microBatch: plan.microBatch)
            .compute(work, data: data, parameters: run.state.parameters, buffers: run.state.buffers,
                     push: { pushed.append(($0, $1)) })
        #expect(result.gradients.map(\.bitPattern) == expected.gradients.map(\.bitPattern))
        #expect(result.batchStatistics.map(\.bitPattern) == expected.batchStatistics.map(\.bitPattern))
        let p = run.problem.model.parameters.count
        var covered = ElementRanges()
        for (range, values) in pushed {
            #expect(covered.intersection(ElementRanges(range)).isEmpty, "\(range) pushed twice")
            covered.insert(range)
            #expect(values.map(\.bitPattern) == expected.gradients[range].map(\.bitPattern), "\(range)")
        }
        #expect(covered.ranges == [0..<p])
        // The heads' parameters lie last in the layout and come first.
        #expect(pushed.first?.0.upperBound == p, "\(pushed.map(\.0))")
        #expect(pushed.count > 2)
    }
}
