// One process computing a block of micro-shards on several threads ("slots"), and reducing
// them into one result, so that one gradient per host leaves it (`loom worker --slots N`).
//
// The block is a node of the reduction tree; its own subtree is cut into aligned sub-blocks
// (`ReductionTree.blocks` over the block, shifted to its start), one per slot. Each slot
// computes its sub-block with its own `ShardComputer` (own workspace, own input buffers:
// nothing mutable is shared), and the sub-results are combined along the same tree. So the
// result is bitwise the one a single computer gives for the block (ARCHITECTURE.md,
// invariant 1), whatever the number of slots.
//
// OpenBLAS runs on one thread per call (`BLAS.useSingleThread`); Debian's
// libopenblas0-pthread is built with threading, which compiles in the locks around its
// buffer pool, so single-threaded calls from several threads at once are safe and run side
// by side (`SlotComputerTests` checks the bits against one thread, repeatedly).

import Foundation
import LoomData

public final class SlotComputer {
    public let problem: TrainingProblem
    public let microBatch: Int
    /// One computer per slot; slot 0's also serves blocks of one micro-shard.
    private let computers: [ShardComputer]

    public var slots: Int { computers.count }

    public init(problem: TrainingProblem, microBatch: Int, slots: Int) {
        precondition(slots >= 1)
        self.problem = problem
        self.microBatch = microBatch
        computers = (0..<slots).map { _ in ShardComputer(problem: problem, microBatch: microBatch) }
    }

    /// The first slot's computer (evaluation and anything else that runs on one thread).
    public var first: ShardComputer { computers[0] }

    /// The sub-blocks of `block` the slots compute: aligned nodes of its subtree, in leaf order.
    public func subBlocks(of block: ShardBlock) -> [ShardBlock] {
        ReductionTree.blocks(leafCount: block.count, parts: min(slots, block.count))
            .map { ShardBlock(start: block.start + $0.start, count: $0.count) }
    }

    /// Computes `work` with up to `slots` threads and reduces it along the tree. `waiting`
    /// runs on the calling thread about every 20 ms while the slots compute (a worker sends
    /// its heartbeats there).
    public func compute(_ work: ShardWork, data: ShardData, parameters: [Float], buffers: [Float],
                        waiting: @escaping () -> Void = {}) throws(TrainingError) -> ShardResult {
        let parts = subBlocks(of: work.block)
        if parts.count == 1 {
            return try computers[0].compute(work, data: data, parameters: parameters, buffers: buffers, afterEach: waiting)
        }
        guard data.count == work.block.count * microBatch, work.sampleIDs.count == data.count else {
            throw .workMismatch(block: work.block, step: work.step, "data for \(data.count) samples (\(work.sampleIDs.count) ids) does not fit \(work.block.count) micro-shards of \(microBatch)")
        }
        let outcomes = SlotOutcomes(count: parts.count)
        let group = DispatchGroup()
        for (i, part) in parts.enumerated() {
            let (subWork, subData) = Self.slice(work, data, to: part, pixels: problem.imageShape.elementCount,
                                                widths: problem.losses.map(\.classes))
            let computer = computers[i]
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do throws(TrainingError) {
                    outcomes.set(i, .success(try computer.compute(subWork, data: subData, parameters: parameters, buffers: buffers)))
                } catch {
                    outcomes.set(i, .failure(error))
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        while group.wait(timeout: .now() + .milliseconds(20)) == .timedOut { waiting() }
        var results: [ShardBlock: ShardResult] = [:]
        for (i, part) in parts.enumerated() {
            switch outcomes.get(i) {
            case .success(let r): results[part] = r
            case .failure(let e): throw e
            case nil: throw .workMismatch(block: part, step: work.step, "a slot ended without a result")
            }
        }
        let wire = problem.config.cluster.wire
        let reduced = ReductionTree.reduce(work.block, value: { results[$0] }, combine: { $0.combine($1, wire: wire) })
        guard let reduced else { throw .workMismatch(block: work.block, step: work.step, "the slots' blocks do not cover it") }
        return reduced
    }

    /// The part of `work` and `data` that covers `part` (a node inside `work.block`).
    static func slice(_ work: ShardWork, _ data: ShardData, to part: ShardBlock, pixels: Int,
                      widths: [Int]) -> (ShardWork, ShardData) {
        let m = work.microBatch
        let lo = (part.start - work.block.start) * m, n = part.count * m
        var sub = work
        sub.block = part
        sub.sampleIDs = Array(work.sampleIDs[lo..<(lo + n)])
        let labels = data.labels.map { $0.isEmpty ? $0 : Array($0[lo..<(lo + n)]) }
        let targets = data.targets.enumerated().map { h, t in t.isEmpty ? t : Array(t[(lo * widths[h])..<((lo + n) * widths[h])]) }
        let images = Array(data.images[(lo * pixels)..<((lo + n) * pixels)])
        return (sub, ShardData(count: n, images: images, labels: labels, targets: targets))
    }
}

/// What each slot's thread left, written once per slot under a lock.
private final class SlotOutcomes: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<ShardResult, TrainingError>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<ShardResult, TrainingError>) { lock.lock(); values[i] = r; lock.unlock() }
    func get(_ i: Int) -> Result<ShardResult, TrainingError>? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
