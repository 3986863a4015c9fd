// Faults a worker can be told to commit, for tests only (`loom worker --test-fault`, a
// hidden option): the coordinator's defences are tested against real worker processes
// that misbehave the way broken or hostile ones do. Never set in production.

/// A way for a worker to misbehave, from its `after`-th training block on (0: the first).
public struct WorkerFault: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Take assignments and never answer them, heartbeating all along.
        case stall
        /// Answer with one bit of the gradient sum flipped (the lowest of element 0), as a
        /// CPU with silent data corruption might.
        case flipBit = "flip-bit"
        /// With shard servers: push the block's gradient to the first server only, send the
        /// result, then die (SIGKILL, a second later, so that the result is out even on a
        /// loaded host): a worker killed after its result left and before its other pushes
        /// did.
        case dieAfterResult = "die-after-result"
    }

    public var kind: Kind
    public var after: Int

    public init(kind: Kind, after: Int = 0) {
        self.kind = kind
        self.after = after
    }

    /// `stall`, `flip-bit`, `die-after-result`, or one with `:N` (from the N-th training
    /// block on); nil otherwise.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let kind = Kind(rawValue: String(parts[0])) else { return nil }
        var after = 0
        if parts.count == 2 {
            guard let n = Int(parts[1]), n >= 0 else { return nil }
            after = n
        }
        self.init(kind: kind, after: after)
    }
}
