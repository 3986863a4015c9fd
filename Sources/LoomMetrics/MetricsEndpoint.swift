// The metrics of one `loom` process, on their own Prometheus registry, rendered on scrape.
//
// Loom records through swift-metrics' API types (Counter, Meter, Timer) whose handlers are
// swift-prometheus metrics made with their HELP text; swift-prometheus renders the text
// exposition. Each process (and each test) owns its registry: nothing is bootstrapped
// globally, so two endpoints in one process never mix.

import CoreMetrics
import Prometheus

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One process's metrics: the registry they live on, and what to refresh before a scrape.
public final class MetricsEndpoint: @unchecked Sendable {
    /// The Prometheus text format version 0.0.4.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory over `registry` (also how handlers are destroyed).
    public let factory: PrometheusMetricsFactory
    private let lock = Lock()
    private var refreshers: [@Sendable () -> Void] = []

    public init() {
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// Runs `refresh` before every scrape (values computed at scrape time, e.g. ages).
    public func beforeScrape(_ refresh: @escaping @Sendable () -> Void) {
        lock.withLock { refreshers.append(refresh) }
    }

    /// The Prometheus text exposition of every metric, refreshed now.
    public func exposition() -> String {
        for refresh in lock.withLock({ refreshers }) { refresh() }
        return registry.emitToString()
    }

    // ---- makers: swift-metrics types over swift-prometheus handlers with HELP text ----------

    /// A counter (`name` ends in `_total`).
    public func counter(_ name: String, _ help: String, labels: [(String, String)] = []) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: name, dimensions: labels,
                            handler: registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels), factory: factory)
    }

    /// A gauge, starting at `initial`.
    public func gauge(_ name: String, _ help: String, labels: [(String, String)] = [],
                      initial: Double = 0) -> CoreMetrics.Meter {
        let meter = CoreMetrics.Meter(label: name, dimensions: labels,
                                      handler: registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels), factory: factory)
        meter.set(initial)
        return meter
    }

    /// A histogram of durations in seconds with `bounds` (seconds) as bucket upper bounds.
    public func durationHistogram(_ name: String, _ help: String, bounds: [Double]) -> CoreMetrics.Timer {
        let buckets = bounds.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
        return CoreMetrics.Timer(label: name, dimensions: [],
                                 handler: registry.makeDurationHistogram(descriptor: Self.descriptor(name, help), buckets: buckets),
                                 factory: factory)
    }

    /// The full name as the metric name (Loom's names carry their unit and `_total` already).
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Removes a gauge from the exposition (e.g. `loom_run_info` of a run id no longer current).
    public func remove(_ gauge: CoreMetrics.Meter) {
        gauge.destroy()
    }
}

/// A pthread mutex with a closure API (Foundation-free, so that `Timer` stays CoreMetrics').
final class Lock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
