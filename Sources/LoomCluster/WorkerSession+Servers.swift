// A worker's side of sharded aggregation (docs/CLUSTER.md, "Shard servers"): the
// coordinator's server map says where each slice of the parameters lives; the worker pulls
// each slice of a weights version from its server, and pushes each server its slice of
// every gradient it computes. Everything else (assignments, the rest of each result,
// evaluation) stays with the coordinator.

import Foundation
import LoomKernels
import LoomTraining
import LoomWire

/// One shard server as a worker reaches it.
struct ServerLink {
    var address: ServerAddress
    var transport: Transport
    /// The newest slice received, as the ranges it came in (offsets in the slice, in the
    /// order they came; a later one overwrites an earlier one where they meet), and its
    /// weights version. The ranges are kept as they were decoded, in their frames' bytes
    /// (`FloatValues`), not copied into one buffer: with overlap each range also goes
    /// straight to its place in the next parameters (`place`), and when the version is
    /// assembled from the links each range is copied once, to its places (`write`).
    var parts: [(range: Range<Int>, values: FloatValues)] = []
    var version: UInt64?
    /// A version arriving range by range (overlap), and the ranges of it in hand.
    var partial: [(range: Range<Int>, values: FloatValues)] = []
    var partialVersion: UInt64?
    var partialHeld = ElementRanges()

    init(address: ServerAddress, transport: Transport) {
        self.address = address
        self.transport = transport
    }

    /// The slice's length.
    var count: Int { address.upper - address.lower }

    /// The newest slice whole, in one buffer (copied from its ranges unless it came whole).
    var slice: [Float]? {
        guard version != nil else { return nil }
        if parts.count == 1, parts[0].range == 0..<count { return parts[0].values.array }
        let n = count
        return [Float](unsafeUninitializedCapacity: n) { to, initialized in
            // Every element is written: the ranges cover the slice (`partialHeld`).
            write(into: to.baseAddress!, pieces: [0..<n])
            initialized = n
        }
    }

    /// Writes the newest slice to `pieces` of `whole` (the places of its elements, in the
    /// slice's order, together `count` long), straight from the ranges it came in.
    func write(into whole: UnsafeMutablePointer<Float>, pieces: [Range<Int>]) {
        for (range, values) in parts {
            values.withUnsafeBufferPointer { from in
                Self.scatter(from, elements: range, of: pieces, into: whole)
            }
        }
    }

    /// Writes `values`, elements `elements` of a slice whose places in `whole` are `pieces`
    /// (in the slice's order), to those places. Returns the ranges of `whole` written.
    @discardableResult
    static func scatter(_ values: UnsafeBufferPointer<Float>, elements: Range<Int>, of pieces: [Range<Int>],
                        into whole: UnsafeMutablePointer<Float>) -> [Range<Int>] {
        var done: [Range<Int>] = []
        var at = 0
        for piece in pieces {
            let lo = max(at, elements.lowerBound), hi = min(at + piece.count, elements.upperBound)
            if lo < hi {
                let into = piece.lowerBound + (lo - at)
                (whole + into).update(from: values.baseAddress! + (lo - elements.lowerBound), count: hi - lo)
                done.append(into..<(into + hi - lo))
            }
            at += piece.count
        }
        return done
    }

    /// `take` of an array.
    mutating func take(_ values: [Float], lower: Int, upper: Int, version v: UInt64) {
        take(FloatValues(values), lower: lower, upper: upper, version: v)
    }

    /// Takes `values` as elements `lower ..< upper` of the parameters, of weights `version`;
    /// the slice is complete (and `version` set) once every element of it is in.
    mutating func take(_ values: FloatValues, lower: Int, upper: Int, version v: UInt64) {
        let n = count
        guard lower >= address.lower, upper <= address.upper, values.count == upper - lower, version != v else { return }
        // The whole slice at once (no overlap, or one range covering it): kept as it came.
        if lower == address.lower && upper == address.upper {
            parts = [(0..<n, values)]
            version = v
            partial = []
            partialVersion = nil
            partialHeld = ElementRanges()
            return
        }
        if partialVersion != v {
            partial = []
            partialVersion = v
            partialHeld = ElementRanges()
        }
        let local = (lower - address.lower)..<(upper - address.lower)
        partial.append((local, values))
        partialHeld.insert(local)
        if partialHeld.contains(0..<n) {
            parts = partial
            version = v
            partial = []
            partialVersion = nil
            partialHeld = ElementRanges()
        }
    }
}

extension WorkerSession {
    /// A new server map: connect to each server (closing the links of an older map).
    func connectServers(_ map: ShardMessage) {
        closeServers()
        let addresses = map.body.servers ?? []
        if let buckets = map.body.buckets, let run = current {
            // The layout the coordinator cut: the same function of (P, S, buckets) here.
            let p = run.computer.problem.model.parameters.count
            guard ParameterSlices.validBuckets(buckets, parameterCount: p),
                  case let cut = ParameterSlices(parameterCount: p, count: addresses.count, buckets: buckets),
                  cut.ranges == addresses.map({ $0.lower..<$0.upper }) else {
                return worker.log.error("dropped a server map whose buckets \(buckets.prefix(8)) and slices do not cut \(p) parameters into \(addresses.count)")
            }
            layout = cut
        }
        for address in addresses {
            do {
                servers.append(ServerLink(address: address, transport: try worker.connectServer(address)))
            } catch {
                worker.log.error("cannot connect to shard server \(address.endpoint): \(error)")
            }
        }
        // By buckets, a server's place in the map is its slice of the layout: all or none.
        if layout != nil && servers.count != addresses.count { return closeServers() }
        worker.log.info("shard servers: \(servers.map { "\($0.address.endpoint) [\($0.address.lower), \($0.address.upper))" }.joined(separator: ", "))")
    }

    func closeServers() {
        for link in servers { link.transport.close() }
        servers = []
        layout = nil
        collecting = nil
        prePulled = nil
        assembled = nil
        queued = []
        streaming = nil
    }

    /// An assignment for a weights version this worker does not hold and is not collecting
    /// (the coordinator assigned it while the step before ran): queued until the servers'
    /// slices of that version are whole here (`startQueued`), asking for them unless they
    /// stream in already. False for any other assignment (computed at once, as before).
    func queueIfEarly(_ a: Assignment) -> Bool {
        guard current != nil, !servers.isEmpty, a.weightsVersion != version, collecting != a.weightsVersion,
              version.map({ a.weightsVersion > $0 }) ?? true else { return false }
        queued.append(a)
        worker.log.trace("step \(a.step): block [\(a.firstShard), +\(a.shardCount)) queued until weights version \(a.weightsVersion) are here")
        return true
    }

    /// Starts the queued assignments whose weights version is held or just assembled (the
    /// buffers stay those of the last weights message: a training step reads none). One of
    /// an older version than the one held is dropped (its step is over).
    func startQueued() throws(ClusterError) {
        while let a = queued.first {
            if let held = version, a.weightsVersion < held {
                queued.removeFirst()
                worker.log.debug("step \(a.step): an early assignment for weights version \(a.weightsVersion) dropped (this worker holds \(held))")
                continue
            }
            if version != a.weightsVersion {
                guard collecting == nil else { return }
                guard let early = assembled, early.version == a.weightsVersion,
                      early.parameters.count == current?.computer.problem.model.parameters.count else {
                    // Not streaming in (this worker pushed nothing of the step before, or
                    // the assignment came before that step's own): ask for it, once. A later
                    // version queued behind it waits: its assignment may come before this
                    // one starts, and must not take the stream this one waits for.
                    if prePulled != a.weightsVersion && (prePulled ?? 0) < a.weightsVersion {
                        pull(a.weightsVersion)
                        prePulled = a.weightsVersion
                    }
                    return
                }
                spareParameters = parameters
                parameters = early.parameters
                version = early.version
                assembled = nil
                startedEarly = early.version
            }
            queued.removeFirst()
            try compute(a)
        }
    }

    /// Overlap, between blocks: the version asked for with the last result is streaming in
    /// and is not assembled yet.
    var awaitingStream: Bool {
        guard let next = prePulled, !servers.isEmpty, collecting == nil else { return false }
        return version != next && assembled?.version != next
    }

    /// A weights message without parameters: take its buffers, and ask every server for its
    /// slice of that version (unless already held).
    func collect(_ update: WeightsUpdate, model: ModelShape) throws(ClusterError) {
        guard update.buffers.count == model.bufferCount else {
            throw .unusableWork(endpoint: worker.options.endpoint, what: "weights version \(update.weightsVersion)", reason: "\(update.buffers.count) buffer values for a model of \(model.bufferCount)")
        }
        buffers = update.buffers
        // A weights message names the version the next work is for: early assignments for
        // an older one are over (docs/PROTOCOL.md, "Early assignments"; a newer one may be
        // queued behind a block of this version given late, and stays).
        queued.removeAll { $0.weightsVersion < update.weightsVersion }
        // Held already (an early assignment started on it): the buffers were all it lacked.
        if version == update.weightsVersion && startedEarly == version { return }
        drainServers()
        // Overlap: assembled already, as its last slice came.
        if let early = assembled, early.version == update.weightsVersion, early.parameters.count == model.parameterCount {
            spareParameters = parameters
            parameters = early.parameters
            assembled = nil
            version = early.version
            collecting = nil
            return
        }
        assembled = nil
        version = nil
        collecting = update.weightsVersion
        drainServers()
        // Overlap: a version asked for after the last result is streaming in already.
        if collecting == update.weightsVersion { pull(update.weightsVersion, streaming: false) }
        assembleIfComplete(parameterCount: model.parameterCount)
    }

    /// Asks every server whose slice of `wanted` is not here for it; with `streaming` false,
    /// not those whose ranges of it are coming in (overlap).
    func pull(_ wanted: UInt64, streaming: Bool = true) {
        guard let run = current else { return }
        let pull = Message.shard(ShardMessage(runID: run.runID, weightsVersion: wanted, body: ShardBody(kind: .pull)))
        for i in servers.indices where servers[i].version != wanted
            && (streaming || (servers[i].partialVersion != wanted && prePulled != wanted)) {
            do { try servers[i].transport.send(pull, to: .coordinator) } catch {
                worker.log.debug("cannot ask shard server \(servers[i].address.endpoint) for weights \(wanted) yet: \(error)")
            }
        }
    }

    /// Takes every slice the servers sent so far.
    func drainServers() {
        guard let run = current else { return }
        for i in servers.indices {
            while let envelope = try? servers[i].transport.receive(timeout: .zero) {
                let message: Message
                do { message = try Message.decode(envelope.frames, expectedRunID: run.runID) } catch {
                    worker.log.warning("dropped a message from shard server \(servers[i].address.endpoint): \(error)")
                    continue
                }
                // The whole slice, or (overlap) one range of it.
                guard case .shard(let m) = message, m.kind == .slice, let lower = m.body.lower, let upper = m.body.upper else { continue }
                // A bf16 run computes with the bf16 rounding of the weights: a float32 slice
                // (or the reverse) is not what `loom train --workers 0` computes with.
                guard m.bf16 == (run.computer.problem.config.cluster.wire == .bf16) else {
                    worker.log.warning("dropped a weights slice from shard server \(servers[i].address.endpoint): \(m.bf16 ? "bf16" : "fp32"), the run's cluster.wire is \(run.computer.problem.config.cluster.wire.rawValue)")
                    continue
                }
                worker.options.timeline?.record(.sliceIn, step: m.weightsVersion, lower, upper)
                // Overlap, between blocks: the range goes to its place in the next
                // version's parameters as it comes, so that the version's last range is
                // the only copy left when it completes (not all P values at once, at the
                // moment every worker of the bed assembles).
                if awaitingStream && m.weightsVersion == prePulled {
                    place(m.values, slice: i, lower: lower, upper: upper, version: m.weightsVersion,
                          parameterCount: run.computer.problem.model.parameters.count)
                }
                servers[i].take(m.values, lower: lower, upper: upper, version: m.weightsVersion)
            }
        }
        assembleIfComplete(parameterCount: run.computer.problem.model.parameters.count)
    }

    /// The parameters of the version being collected, once every server's slice of it is in;
    /// between blocks with overlap, of the version streaming in (into `assembled`, until the
    /// coordinator's weights message names it).
    private func assembleIfComplete(parameterCount: Int) {
        let early = collecting == nil
        guard let wanted = collecting ?? (awaitingStream ? prePulled : nil), servers.allSatisfy({ $0.version == wanted }) else { return }
        // The slices in order, end to end, cover the parameters (`ParameterSlices`).
        var end = 0
        for (s, link) in servers.enumerated() {
            guard link.version == wanted, link.address.lower == end, link.address.upper <= parameterCount else { return }
            end = link.address.upper
            // By buckets the layout was checked against the map when it came
            // (`connectServers`): its pieces of slice s are the slice's size.
            if let layout, layout.parameterCount != parameterCount || layout.count != servers.count
                || layout.range(s) != link.address.lower..<link.address.upper { return }
        }
        guard end == parameterCount else { return }
        // Each slice copied once, from the ranges it came in, to its place: end to end, or
        // (by buckets, the slices are in the layout's order) to its pieces of the
        // parameters. Every element is written, so a buffer of the right size (an older
        // version's) is written over in place.
        let layout = layout
        let servers = servers
        func fill(_ whole: UnsafeMutableBufferPointer<Float>) {
            for (s, link) in servers.enumerated() {
                link.write(into: whole.baseAddress!, pieces: layout?.pieces(s) ?? [link.address.lower..<link.address.upper])
            }
        }
        // Placed range by range as it streamed in (`place`): nothing left to copy.
        if early, let placed = streaming, placed.version == wanted, placed.parameters.count == parameterCount,
           placed.written.contains(0..<parameterCount) {
            assembled = (wanted, placed.parameters)
            streaming = nil
            worker.options.timeline?.record(.weightsComplete, step: wanted)
            return
        }
        var target: [Float] = []
        if early { swap(&target, &spareParameters) } else { swap(&target, &parameters) }
        if target.count == parameterCount {
            target.withUnsafeMutableBufferPointer { fill($0) }
        } else {
            target = [Float](unsafeUninitializedCapacity: parameterCount) { whole, count in
                whole.initialize(repeating: 0)
                fill(whole)
                count = parameterCount
            }
        }
        if early {
            assembled = (wanted, target)
        } else {
            parameters = target
            version = wanted
            collecting = nil
        }
        worker.options.timeline?.record(.weightsComplete, step: wanted)
    }

    /// Writes `values`, elements `lower ..< upper` of slice `s` (offsets of the layout), to
    /// their places in the parameters of version `v` being streamed in (`streaming`, in a
    /// spare buffer of an older version).
    func place(_ values: FloatValues, slice s: Int, lower: Int, upper: Int, version v: UInt64, parameterCount: Int) {
        let address = servers[s].address
        guard lower >= address.lower, upper <= address.upper, values.count == upper - lower else { return }
        if streaming?.version != v || streaming?.parameters.count != parameterCount {
            var target: [Float] = []
            swap(&target, &spareParameters)
            if target.count != parameterCount {
                target = [Float](unsafeUninitializedCapacity: parameterCount) { _, count in count = parameterCount }
            }
            // Not zeroed: the version is taken only once every element was written.
            streaming = (v, target, ElementRanges())
        }
        let pieces = layout?.pieces(s) ?? [address.lower..<address.upper]
        let local = (lower - address.lower)..<(upper - address.lower)
        let done = values.withUnsafeBufferPointer { from in
            streaming!.parameters.withUnsafeMutableBufferPointer { to in
                ServerLink.scatter(from, elements: local, of: pieces, into: to.baseAddress!)
            }
        }
        for range in done { streaming!.written.insert(range) }
    }

    /// Work for weights `wanted` that are being collected: wait for the servers' slices (up
    /// to the run's timeout, asking again every 100 ms, heartbeating meanwhile). False when
    /// they did not come: the work is dropped (it goes to another worker at the step
    /// deadline, and a lost server makes the coordinator roll the run back).
    func awaitSlices(_ wanted: UInt64) -> Bool {
        guard collecting == wanted, let run = current else { return true }
        let started = ContinuousClock.now
        var asked = started, askedAll = started
        while collecting == wanted && ContinuousClock.now - started < run.timeout && !worker.stopRequested {
            drainServers()
            if collecting != wanted { break }
            beatIfDue()
            noteCoordinatorIfReady()
            // Servers whose ranges are streaming in are asked again only every second.
            let now = ContinuousClock.now
            if now - asked > .milliseconds(100) {
                asked = now
                let all = now - askedAll > .seconds(1)
                if all { askedAll = now }
                pull(wanted, streaming: all)
            }
            // Until a server sends something, the next ask, or the next heartbeat.
            TransportWait.any(servers.map(\.transport), timeout: .milliseconds(20))
        }
        guard collecting == wanted else { return true }
        let missing = servers.filter { $0.version != wanted }.map(\.address.endpoint)
        worker.log.warning("the slices of weights version \(wanted) did not come from shard server(s) \(missing.joined(separator: ", ")) within \(milliseconds(run.timeout)) ms: work for that version dropped")
        return false
    }

    /// Sends each server its slice of `gradients` (with `bf16`, as bfloat16: a bf16 run's
    /// sums are bf16 values already, so they cross exactly); false (after a log line) when
    /// one could not be sent: then no result goes to the coordinator, and the block goes to
    /// another worker at the step deadline.
    func pushSlices(_ gradients: [Float], for a: Assignment, runID: UInt64, bf16: Bool) -> Bool {
        for (s, link) in servers.enumerated() where !(dyingAfterResult && s > 0) {
            var body = ShardBody(kind: .gradient)
            body.first = Int(a.firstShard)
            body.count = a.shardCount
            let message = ShardMessage(runID: runID, step: a.step, weightsVersion: a.weightsVersion, body: body, bf16: bf16)
            let frames: [[UInt8]]
            if let layout {
                frames = layout.gather(gradients, slice: s).withUnsafeBufferPointer { message.encode(values: $0) }
            } else {
                frames = gradients.withUnsafeBufferPointer {
                    message.encode(values: UnsafeBufferPointer(rebasing: $0[link.address.lower..<link.address.upper]))
                }
            }
            do { try link.transport.send(frames, to: .coordinator) } catch {
                worker.log.warning("step \(a.step): cannot push the gradient of block [\(a.firstShard), +\(a.shardCount)) to shard server \(link.address.endpoint): \(error); the result is not sent")
                return false
            }
            worker.options.timeline?.record(.pushed, step: a.step, link.address.lower, link.address.upper)
        }
        return true
    }
}

extension WorkerSession {
    /// Overlap: sends each server its part of `values`, elements `range` of the block's
    /// gradient sum (as bfloat16 with `bf16`: a bf16 run's sums are bf16 values already), in
    /// messages of at most `overlapChunkFloats`. False (after a log line)
    /// when one could not be sent.
    func pushRange(_ range: Range<Int>, _ values: UnsafeBufferPointer<Float>, for a: Assignment, runID: UInt64, bf16: Bool) -> Bool {
        // Each part of `range` a server holds: where it lies in the parameters (`values`)
        // and in the layout (the message's `lower ..< upper`); without buckets the same.
        let parts: [(slice: Int, parameters: Range<Int>, layout: Range<Int>)]
        if let layout {
            parts = layout.locate(range)
        } else {
            parts = servers.indices.compactMap { s in
                let lower = max(range.lowerBound, servers[s].address.lower), upper = min(range.upperBound, servers[s].address.upper)
                return lower < upper ? (s, lower..<upper, lower..<upper) : nil
            }
        }
        for (s, inParameters, inLayout) in parts where !(dyingAfterResult && s > 0) {
            let link = servers[s]
            for chunk in ElementRanges.chunks(of: inLayout, limit: overlapChunkFloats) {
                var body = ShardBody(kind: .gradient)
                body.first = Int(a.firstShard)
                body.count = a.shardCount
                body.lower = chunk.lowerBound
                body.upper = chunk.upperBound
                // Encoded (narrowed, with bf16) straight from the gradient: no copy of the range first.
                let from = inParameters.lowerBound - range.lowerBound + (chunk.lowerBound - inLayout.lowerBound)
                let part = UnsafeBufferPointer(rebasing: values[from..<(from + chunk.count)])
                let frames = ShardMessage(runID: runID, step: a.step, weightsVersion: a.weightsVersion, body: body, bf16: bf16)
                    .encode(values: part)
                do { try link.transport.send(frames, to: .coordinator) } catch {
                    worker.log.warning("step \(a.step): cannot push gradient range [\(chunk.lowerBound), \(chunk.upperBound)) of block [\(a.firstShard), +\(a.shardCount)) to shard server \(link.address.endpoint): \(error)")
                    return false
                }
                worker.options.timeline?.record(.pushed, step: a.step, chunk.lowerBound, chunk.upperBound)
            }
        }
        return true
    }
}

/// The sizes a weights message must fit.
struct ModelShape {
    var parameterCount: Int
    var bufferCount: Int
}
