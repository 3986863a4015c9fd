// Overlap: a worker's small gradient ranges wait for the next one (`FusedPushes`), as
// Horovod's tensor fusion and DDP's buckets join small tensors, so that a batch norm's or a
// head's few hundred values do not cost a message per server and a wake-up at each end.
//
// A layer's range waits for the next one the backward pass reports (the model's
// `backwardSpans` say which) when that one is adjacent (the backward pass goes from the last
// layers to the first, so the next range ends where this one starts), lies in the same
// bucket of the servers' slices (`ParameterSlices`), and either this range is below
// `minimum` floats or the next one is and costs no FLOPs (a batch norm after a convolution:
// it comes at once). A range never waits across a bucket's edge, which would hold back the
// bucket above it, whose weights can come back early, nor for a layer with real work. What
// waits goes out with the next range. The servers get the same elements in fewer messages,
// so the bits do not change.

import LoomTraining

struct FusedPushes {
    /// Below this many floats a range waits for the next one.
    static let minimum = 4096

    /// Interior bucket edges of the slices (empty: one bucket).
    let buckets: [Int]
    /// The ranges that wait for the next one, by their first element.
    private var waits: Set<Int> = []
    private var held: Range<Int>?

    /// - Parameter order: the layers as the backward pass reports them (`backwardSpans`):
    ///   their parameters and forward FLOPs.
    init(buckets: [Int], order: [(parameters: Range<Int>, flops: Int)]) {
        self.buckets = buckets
        let spans = order.filter { !$0.parameters.isEmpty }
        var reach: Range<Int>?
        for (span, next) in zip(spans, spans.dropFirst()) {
            // What is held when `next` comes: `span`, with whatever waited for it.
            let range = reach.map { span.parameters.lowerBound..<$0.upperBound } ?? span.parameters
            let joins = next.parameters.upperBound == range.lowerBound && bucket(next.parameters.lowerBound) == bucket(range.lowerBound)
                && (range.count < Self.minimum || (next.parameters.count < Self.minimum && next.flops == 0))
            if joins { waits.insert(span.parameters.lowerBound) }
            reach = joins ? range : nil
        }
    }

    /// Which bucket element `i` is in.
    private func bucket(_ i: Int) -> Int {
        var lo = 0, hi = buckets.count
        while lo < hi { let mid = (lo + hi) / 2; if buckets[mid] <= i { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    /// Takes the range the backward pass reported: pushes what is ready through `push`
    /// (which reads the values from the caller's gradient), holds the rest. False when a
    /// push failed. Only ranges move here, no values: the bed's stand-in has its whole
    /// gradient in one buffer, and a copy of f1's 1.6 MB per step was CPU the bed lacks.
    mutating func add(_ range: Range<Int>, push: (Range<Int>) -> Bool) -> Bool {
        guard !range.isEmpty else { return true }
        let waits = waits.contains(range.lowerBound)
        if let h = held {
            if range.upperBound == h.lowerBound && bucket(range.lowerBound) == bucket(h.lowerBound) {
                held = range.lowerBound..<h.upperBound
                return waits ? true : finish(push: push)
            }
            // Not the range expected: what waited goes alone.
            guard finish(push: push) else { return false }
        }
        if waits {
            held = range
            return true
        }
        return push(range)
    }

    /// Pushes what is held.
    mutating func finish(push: (Range<Int>) -> Bool) -> Bool {
        guard let h = held else { return true }
        held = nil
        return push(h)
    }
}
