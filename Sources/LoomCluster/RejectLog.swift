// How many "dropped a message" lines the coordinator writes (ARCHITECTURE.md, invariant 4:
// drop, log with the peer, count). A peer chooses its ZeroMQ identity, and a new connection
// gets a new one: a cap per identity alone was bypassed by reconnecting (12,634 lines in a
// 45 s fuzz). So lines are capped per source — the connection's address when the transport
// knows it, else the identity — and in total, per window; what is not logged is counted
// and summed up in one line per window.

/// Decides which rejects are logged and sums up the rest.
struct RejectLog {
    /// Lines per source per window.
    var perSource = 20
    /// Lines per window from all sources together (many addresses: IPv6, a botnet).
    var perWindow = 100
    /// Sources tracked by name per window; the rest count under "other addresses".
    var trackedSources = 1000
    let window: Duration

    private var windowStart: ContinuousClock.Instant
    private var loggedBySource: [String: Int] = [:]
    private var logged = 0
    private var suppressedBySource: [String: [String: Int]] = [:]
    private var suppressed = 0

    init(window: Duration, now: ContinuousClock.Instant) {
        self.window = window
        windowStart = now
    }

    enum Decision: Equatable {
        /// Log the reject.
        case log
        /// Log it, then say that this source's further rejects are only counted.
        case logLast
        /// Count it for the summary.
        case suppress
    }

    /// What to do with one reject for `reason` from `source`.
    mutating func decide(source: String, reason: String) -> Decision {
        let known = loggedBySource[source] != nil || loggedBySource.count < trackedSources
        let key = known ? source : "other addresses"
        let count = loggedBySource[key, default: 0]
        if count < perSource && logged < perWindow {
            loggedBySource[key] = count + 1
            logged += 1
            return count + 1 == perSource || logged == perWindow ? .logLast : .log
        }
        suppressedBySource[key, default: [:]][reason, default: 0] += 1
        suppressed += 1
        return .suppress
    }

    /// Rejects not logged since the last summary.
    var suppressedCount: Int { suppressed }
    /// Whether this window's lines are all spent, whatever the source.
    var windowFull: Bool { logged >= perWindow }

    /// At the end of a window (or at once with `force`): the summary line of what was not
    /// logged in it, nil when nothing was; the next window starts with fresh caps.
    mutating func summary(now: ContinuousClock.Instant, force: Bool = false) -> String? {
        guard force || now - windowStart >= window else { return nil }
        let elapsed = now - windowStart
        defer {
            windowStart = now
            loggedBySource = [:]
            logged = 0
            suppressedBySource = [:]
            suppressed = 0
        }
        guard suppressed > 0 else { return nil }
        let bySize = suppressedBySource.map { ($0.key, $0.value.values.reduce(0, +), $0.value) }
            .sorted { ($0.1, $1.0) > ($1.1, $0.0) }
        let shown = bySize.prefix(5).map { source, total, reasons in
            let parts = reasons.keys.sorted().map { "\($0) \(reasons[$0]!)" }.joined(separator: ", ")
            return "\(source) \(total) (\(parts))"
        }
        let more = bySize.count > 5 ? "; and \(bySize.count - 5) more sources" : ""
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return "dropped \(suppressed) more bad messages in the last \(Int(seconds.rounded())) s without logging each: "
            + shown.joined(separator: "; ") + more
    }
}
