// A shard server with overlap (`cluster.overlap`, docs/CLUSTER.md, "Overlap"): the
// coordinator's `update` comes when the step starts (the learning rate and the tree's
// leaves: the confirmation), the workers' gradients come range by range while their
// backward passes run, and each range of the slice is summed, stepped and sent to the
// workers that already asked for the next version as soon as every micro-shard's gradient
// covers it (`RangedPieces`). The last layers' weights are then on their way back while
// the first layers' gradients are still computed.
//
// The bits are those of the whole-slice step: a range's sum is the tree's sum from the same
// micro-shards, and the optimizer is elementwise (`Optimizer.step(…, elements:)`, then
// `finishStep` once). The new weights go into a copy (`next`), so a worker still pulling
// the current version gets the current version; the optimizer's slots are stepped in
// place, which nobody reads before the step ends (a gather comes between steps, a `state`
// replaces everything). A range whose sum is not finite stops the step: the answer is
// `finite: false` and the run ends as a diverged step does, without a checkpoint of it.

import LoomKernels
import LoomTraining
import LoomWire

/// The step a server applies range by range.
struct RangedStep {
    /// The pieces' ranges held (nil before the step's update).
    var pieces: RangedPieces?
    /// Gradient ranges that came before the update: (piece, range of the slice, values).
    var early: [(ShardBlock, Range<Int>, FloatValues)] = []
    /// The slice's elements stepped so far, and the new weights (a copy of the slice).
    var applied = ElementRanges()
    var next: [Float] = []
    /// The step's summed gradient, filled range by range (the optimizer reads it).
    var gradient: [Float] = []
    /// What each worker that asked for the next version was sent of it so far.
    var streamed: [PeerID: ElementRanges] = [:]
    /// Gradient ranges were taken since the last `applyReadyRanges`.
    var arrived = false
}

/// Gradient parts and weight ranges go in messages of at most this many floats (1 MiB),
/// so that heartbeats and other hosts' traffic do not wait behind one long message.
let overlapChunkFloats = 1 << 18

extension ShardServerSession {
    /// The coordinator's update at the start of a step: sum and apply what is already here.
    func startRangedStep() {
        guard let slice, let update else { return }
        let n = slice.range.count
        let early = ranged.early
        ranged = RangedStep(pieces: RangedPieces(leaves: update.leaves, length: n, bf16: slice.wire == .bf16), next: slice.parameters,
                            gradient: [Float](repeating: 0, count: n))
        for (block, range, values) in early { ranged.pieces?.take(block, range: range, values: values) }
        applyReadyRanges()
    }

    /// One gradient message: a range of a piece (or the whole slice, from a worker that
    /// pushes whole blocks, such as one with several slots).
    func takeRange(_ m: ShardMessage, from peer: PeerID) {
        guard let slice, let first = m.body.first, let count = m.body.count else { return }
        // A float32 range in a bf16 run (or the reverse) was not summed along the run's tree.
        guard m.bf16 == (slice.wire == .bf16) else {
            return logger.warning("dropped a gradient range from worker \(peer): \(m.bf16 ? "bf16" : "fp32"), the run's cluster.wire is \(slice.wire.rawValue)")
        }
        guard m.weightsVersion == slice.version else { return }
        gradientBytesIn += m.values.count * (m.bf16 ? 2 : 4)
        let lower = m.body.lower ?? slice.range.lowerBound, upper = m.body.upper ?? slice.range.upperBound
        guard lower >= slice.range.lowerBound, upper <= slice.range.upperBound, m.values.count == upper - lower else {
            return logger.warning("dropped a gradient range [\(lower), \(upper)) from worker \(peer): this server holds [\(slice.range.lowerBound), \(slice.range.upperBound))")
        }
        server.options.timeline?.record(.gradientIn, step: m.step, lower, upper)
        let block = ShardBlock(start: first, count: count)
        let local = (lower - slice.range.lowerBound)..<(upper - slice.range.lowerBound)
        guard update != nil, ranged.pieces != nil else {
            ranged.early.append((block, local, m.values))
            return
        }
        guard ranged.pieces!.take(block, range: local, values: m.values) else {
            return logger.warning("dropped a gradient range of block \(block) from worker \(peer): no node of this step's tree")
        }
        // Summed and stepped once the messages that came together are all taken
        // (`applyArrivedRanges`): ranges completed by one burst go back as one message.
        ranged.arrived = true
    }

    /// After a batch of workers' messages: sums and steps what they completed.
    func applyArrivedRanges() {
        guard ranged.arrived else { return }
        ranged.arrived = false
        applyReadyRanges()
    }

    /// Sums and steps every range whose sum became complete, sends it on, and ends the step
    /// when the whole slice is done.
    func applyReadyRanges() {
        guard let slice, let update, let pieces = ranged.pieces else { return }
        let n = slice.range.count
        let fresh = pieces.ready.subtracting(ranged.applied)
        // The buffers are moved out while they are written (no copy, no overlapping access).
        var next: [Float] = [], gradient: [Float] = []
        swap(&next, &ranged.next)
        swap(&gradient, &ranged.gradient)
        var finite = true
        // Adjacent ranges stepped here go to the workers as one message, once all are stepped.
        var run: Range<Int>?
        var runs: [Range<Int>] = []
        func send() {
            guard let r = run else { return }
            runs.append(r)
            run = nil
        }
        for range in fresh.ranges {
            // Summed straight into the step's gradient, then checked there.
            let summed = gradient.withUnsafeMutableBufferPointer { g in
                pieces.sum(range, into: UnsafeMutableBufferPointer(rebasing: g[range]))
            }
            guard summed else {
                logger.error("step \(update.step): the sum of [\(range.lowerBound), \(range.upperBound)) is not covered")
                continue
            }
            let allFinite = gradient.withUnsafeBufferPointer { firstNonFinite(UnsafeBufferPointer(rebasing: $0[range])) == nil }
            guard allFinite else { finite = false; break }
            next.withUnsafeMutableBufferPointer { w in
                gradient.withUnsafeBufferPointer { g in
                    if let wp = w.baseAddress, let gp = g.baseAddress {
                        slice.optimizer.step(weights: wp, gradients: gp, lr: update.lr, elements: range)
                    }
                }
            }
            ranged.applied.insert(range)
            if let r = run, r.upperBound == range.lowerBound { run = r.lowerBound..<range.upperBound } else { send(); run = range }
        }
        send()
        swap(&next, &ranged.next)
        swap(&gradient, &ranged.gradient)
        // The slice complete: the coordinator hears it before the last ranges leave, so its
        // next step's messages do not wait for them (they would queue behind them on this
        // host's link, and the workers need both; docs/SCALING.md, "The tail").
        let complete = finite && ranged.applied.count == n
        if complete { sendUpdated(finite: true, step: update.step, version: slice.version + 1) }
        for r in runs {
            stream(r, of: ranged.next, version: slice.version + 1)
            server.options.timeline?.record(.rangeStepped, step: update.step, slice.range.lowerBound + r.lowerBound,
                                            slice.range.lowerBound + r.upperBound)
        }
        if !finite { return endRangedStep(finite: false) }
        if complete { endRangedStep(finite: true, announced: true) }
    }

    /// Tells the coordinator this slice's step is done (`finite`) or refused, at `version`.
    private func sendUpdated(finite: Bool, step: UInt64, version: UInt64) {
        guard let slice else { return }
        var body = ShardBody(kind: .updated)
        body.shard = slice.shard
        body.finite = finite
        sendToCoordinator(.shard(ShardMessage(runID: slice.runID, step: step, weightsVersion: version, body: body)))
        server.options.timeline?.record(.updatedSent, step: step)
    }

    /// A worker asked for the version being made: it gets the ranges done so far.
    func catchUp(_ peer: PeerID, version: UInt64) {
        guard let slice, version == slice.version + 1, ranged.pieces != nil else { return }
        let missing = ranged.applied.subtracting(ranged.streamed[peer] ?? ElementRanges())
        for range in missing.ranges { sendRange(range, of: ranged.next, version: version, to: [peer]) }
        ranged.streamed[peer, default: ElementRanges()] = ranged.applied
    }

    /// Sends the new weights of `range` (in `next`) to every worker that asked for `version`.
    private func stream(_ range: Range<Int>, of next: [Float], version: UInt64) {
        let peers = waitingPulls.filter { $0.value == version }.map(\.key)
        sendRange(range, of: next, version: version, to: peers)
        for peer in peers { ranged.streamed[peer, default: ElementRanges()].insert(range) }
    }

    /// `announced`: the coordinator was told already (`sendUpdated`).
    private func endRangedStep(finite: Bool, announced: Bool = false) {
        guard var slice, let update else { return }
        if finite {
            slice.optimizer.finishStep()
            previous = (slice.version, slice.parameters)
            slice.parameters = ranged.next
            slice.version += 1
            stepsApplied += 1
        }
        let streamed = ranged.streamed
        if !announced { sendUpdated(finite: finite, step: update.step, version: slice.version) }
        self.slice = slice
        self.update = nil
        ranged = RangedStep()
        logger.trace("step \(update.step): slice \(slice.shard) \(finite ? "applied by ranges" : "not finite: the step is not taken")")
        guard finite else { return }
        // Workers that asked for this version get what they were not streamed yet.
        let whole = ElementRanges(0..<slice.range.count)
        // Workers missing the same ranges (usually all of them: the last ranges) share
        // one encoding of each.
        var missing: [(ranges: ElementRanges, peers: [PeerID])] = []
        for (peer, wanted) in waitingPulls where wanted == slice.version {
            waitingPulls[peer] = nil
            let left = whole.subtracting(streamed[peer] ?? ElementRanges())
            if let i = missing.firstIndex(where: { $0.ranges == left }) { missing[i].peers.append(peer) }
            else { missing.append((left, [peer])) }
        }
        for (ranges, peers) in missing {
            for range in ranges.ranges { sendRange(range, of: slice.parameters, version: slice.version, to: peers) }
        }
    }

    /// Elements `range` (of the slice) of `values` as `slice` messages of at most
    /// `overlapChunkFloats` to each of `peers`, each message encoded once (narrowed once,
    /// with bf16) straight from `values`, however many workers get it.
    func sendRange(_ range: Range<Int>, of values: [Float], version: UInt64, to peers: [PeerID]) {
        guard let slice, !peers.isEmpty else { return }
        for chunk in ElementRanges.chunks(of: range, limit: overlapChunkFloats) {
            var body = ShardBody(kind: .slice)
            body.shard = slice.shard
            body.lower = slice.range.lowerBound + chunk.lowerBound
            body.upper = slice.range.lowerBound + chunk.upperBound
            // With bf16 the range goes rounded to nearest even, as a whole slice does.
            let message = ShardMessage(runID: slice.runID, step: version, weightsVersion: version, body: body,
                                       bf16: slice.wire == .bf16)
            let frames = values.withUnsafeBufferPointer { message.encode(values: UnsafeBufferPointer(rebasing: $0[chunk])) }
            let bytes = frames.reduce(0) { $0 + $1.count }
            for peer in peers {
                sliceBytesOut += bytes
                do { try server.workerTransport.send(frames, to: peer) } catch {
                    logger.debug("cannot send weights \(version) to worker \(peer): \(error)")
                }
            }
        }
    }
}
