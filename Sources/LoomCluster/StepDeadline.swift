// How long a worker may hold a piece of a step or an evaluation before the piece goes to
// another worker (docs/CLUSTER.md, "Step deadline"). Heartbeats say a worker's process is
// alive, not that it is computing: a worker that heartbeats but never answers would
// otherwise hold a synchronous step as long as it likes.
//
// The deadline is per piece, counted from when the piece was given: `cluster.step_deadline_ms`
// when set, otherwise `factor` times the recent time per unit of work (a micro-shard of a
// step, a sample of an evaluation) times the units the worker holds with it, and never
// less than `cluster.step_deadline_floor_ms`. Counting the units the worker holds keeps the
// deadline fair when a worker is given more of a step than usual (a peer died, fewer
// workers than blocks); the floor covers the first pieces, which have no history yet.

import LoomConfig

struct StepDeadline {
    /// What the recent times are of: units of training work and of evaluation are not alike.
    enum Kind: Hashable { case train, evaluate }

    /// A multiple of the recent time per unit: a worker this much slower than its peers
    /// holds the step for no good reason.
    static let factor = 10.0
    /// Pieces whose time per unit is remembered, per kind.
    static let window = 32

    /// `cluster.step_deadline_ms` (nil: automatic).
    var fixed: Duration?
    /// `cluster.step_deadline_floor_ms`: the automatic deadline is never shorter.
    var floor: Duration
    /// Seconds per unit of the latest pieces, oldest first.
    private(set) var recent: [Kind: [Double]] = [:]

    init(fixed: Duration?, floor: Duration) {
        self.fixed = fixed
        self.floor = floor
    }

    init(config: ClusterConfig) {
        self.init(fixed: config.stepDeadlineMs > 0 ? .milliseconds(config.stepDeadlineMs) : nil,
                  floor: .milliseconds(config.stepDeadlineFloorMs))
    }

    /// A piece of `units` units came back `seconds` after it was given.
    mutating func record(_ kind: Kind, seconds: Double, units: Int) {
        guard units > 0, seconds.isFinite, seconds >= 0 else { return }
        var times = recent[kind, default: []]
        times.append(seconds / Double(units))
        if times.count > Self.window { times.removeFirst(times.count - Self.window) }
        recent[kind] = times
    }

    /// The median seconds per unit of the recent pieces of `kind` (nil: none yet).
    func secondsPerUnit(_ kind: Kind) -> Double? {
        guard let times = recent[kind], !times.isEmpty else { return nil }
        let sorted = times.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// How long a worker holding `units` units of work (this piece and those given before
    /// it, not yet back) may take for this piece.
    func allowance(_ kind: Kind, units: Int) -> Duration {
        if let fixed { return fixed }
        guard let perUnit = secondsPerUnit(kind) else { return floor }
        let automatic = Self.factor * perUnit * Double(max(units, 1))
        // Duration(secondsDouble) traps on huge values; a day is "no deadline" enough.
        let capped = min(automatic, 86_400)
        return max(floor, .milliseconds(Int64((capped * 1000).rounded(.up))))
    }
}
