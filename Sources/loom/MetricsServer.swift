// `--metrics-port PORT`: a tiny HTTP/1.1 server for Prometheus scrapes and probes.
//
//   GET /metrics  the text exposition of the process's `MetricsEndpoint` (LoomMetrics:
//                 swift-metrics over swift-prometheus)
//   GET /healthz  "ok" (liveness and readiness probes)
//
// One background thread accepts and answers one connection at a time, then closes it
// (`Connection: close`): scrapes are rare and tiny, and a client that stalls is cut off
// by a 2 s socket timeout, so nothing here can hold up training.

import ArgumentParser
import Foundation
import Logging
import LoomCluster
import LoomMetrics
import LoomTraining

#if canImport(Glibc)
import Glibc
#endif

/// `--metrics-port` and `--metrics-bind`, shared by `loom coordinator`, `loom train` and
/// `loom worker`. The endpoint has no authentication, so it listens on loopback unless told
/// otherwise (a Prometheus on another machine needs `--metrics-bind 0.0.0.0` or the address
/// of the interface it scrapes).
struct MetricsOptions: ParsableArguments {
    @Option(help: "Serve Prometheus metrics at http://ADDRESS:PORT/metrics and a probe at /healthz (0 = any free port; ADDRESS is --metrics-bind).")
    var metricsPort: Int?

    @Option(help: "The IPv4 address the metrics port listens on: 127.0.0.1 (the default, this machine only), an interface's address, or 0.0.0.0 (every interface; the endpoint has no authentication).")
    var metricsBind = "127.0.0.1"

    func validate() throws {
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be in 0...65535, got \(metricsPort)")
        }
        if MetricsServer.ipv4(metricsBind) == nil {
            throw ValidationError("--metrics-bind must be an IPv4 address such as 127.0.0.1 or 0.0.0.0 (or localhost), got '\(metricsBind)'")
        }
    }

    /// Starts the server for `run` when asked; its values follow every step of the run.
    func start(for run: TrainingRun, logger: Logger) throws -> MetricsServer? {
        guard let metricsPort else { return nil }
        let endpoint = MetricsEndpoint()
        let server = try MetricsServer(port: UInt16(metricsPort), address: metricsBind, endpoint: endpoint)
        server.training = TrainingMetrics(endpoint: endpoint, latestCheckpointPath: run.directory.latestPath, runID: run.runID)
        logger.info("metrics on http://\(server.address):\(server.port)/metrics (probe: /healthz)")
        return server
    }

    /// Starts the server for a worker when asked: its metrics, and the transport decorator
    /// that feeds them.
    func startWorker(logger: Logger) throws -> (MetricsServer, WorkerMetrics)? {
        guard let metricsPort else { return nil }
        let endpoint = MetricsEndpoint()
        let server = try MetricsServer(port: UInt16(metricsPort), address: metricsBind, endpoint: endpoint)
        logger.info("metrics on http://\(server.address):\(server.port)/metrics (probe: /healthz)")
        return (server, WorkerMetrics(endpoint: endpoint))
    }
}

/// Why the metrics server could not start.
struct MetricsServerError: Error, CustomStringConvertible {
    let description: String
}

final class MetricsServer: @unchecked Sendable {
    let endpoint: MetricsEndpoint
    /// The run's metrics (`loom train`, `loom coordinator`); nil on a worker.
    var training: TrainingMetrics?
    /// The bound port (the one chosen by the system when 0 was asked for).
    let port: UInt16
    /// The IPv4 address listened on (`--metrics-bind`).
    let address: String
    private let listener: Int32

    /// `text` as an IPv4 address in network byte order; `localhost` is 127.0.0.1.
    static func ipv4(_ text: String) -> in_addr? {
        var parsed = in_addr()
        let literal = text.lowercased() == "localhost" ? "127.0.0.1" : text
        return inet_pton(AF_INET, literal, &parsed) == 1 ? parsed : nil
    }

    init(port: UInt16, address: String, endpoint: MetricsEndpoint) throws(MetricsServerError) {
        self.endpoint = endpoint
        guard let bindAddress = Self.ipv4(address) else {
            throw MetricsServerError(description: "metrics server: '\(address)' is not an IPv4 address (--metrics-bind)")
        }
        let shown = address.lowercased() == "localhost" ? "127.0.0.1" : address
        self.address = shown
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MetricsServerError(description: "metrics server: socket(): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr = bindAddress
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw MetricsServerError(description: "metrics server: cannot listen on \(shown):\(port) (--metrics-bind, --metrics-port): \(why)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = UInt16(bigEndian: actual.sin_port)
        listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "loom-metrics"
        thread.start()
    }

    /// Makes the metrics follow `run`: every step records its numbers, every evaluation its
    /// accuracy and loss per head and, when the steps are computed by a cluster, the
    /// executor's membership and traffic. Wraps (keeps) the callbacks already set.
    func observe(run: TrainingRun, executor: ClusterExecutor?) {
        guard let training else { return }
        let cluster = executor.map { _ in ClusterMetrics(endpoint: endpoint) }
        let previousStep = run.onStep, previousEvaluation = run.onEvaluation
        training.recordRunID(run.runID)
        run.onStep = { [weak run] summary, samplesPerSecond in
            previousStep?(summary, samplesPerSecond)
            // `summary.step` and `.epoch` are 0-based indices; operators see counts, as in the log lines.
            training.recordStep(step: summary.step + 1, epoch: summary.epoch + 1, loss: summary.loss,
                                learningRate: summary.lr, samplesPerSecond: samplesPerSecond)
            if let executor, let cluster { cluster.record(Self.totals(executor)) }
            if let run { training.recordRunID(run.runID) }
        }
        run.onEvaluation = { report in
            previousEvaluation?(report)
            training.recordEvaluation(split: report.split, heads: report.heads.map { head in
                HeadEvaluation(head: head.name, accuracy: head.metrics["accuracy"],
                               loss: head.metrics["nll"] ?? head.metrics["bce"])
            })
            if let executor, let cluster { cluster.record(Self.totals(executor)) }
        }
    }

    /// The executor's counters as LoomMetrics takes them.
    static func totals(_ executor: ClusterExecutor) -> ClusterTotals {
        let s = executor.statistics
        var t = ClusterTotals()
        t.liveWorkers = executor.liveWorkers.count
        t.workersJoined = s.workersJoined
        t.workersLost = s.workersLost
        t.workersRefused = s.workersRefused
        t.blocksReassigned = s.blocksReassigned
        t.deadlinesMissed = s.deadlinesMissed
        t.blocksAudited = s.blocksAudited
        t.auditMismatches = s.auditMismatches
        t.workersExcluded = s.workersExcluded
        t.bytesSent = s.bytesSent
        t.bytesReceived = s.bytesReceived
        t.sharedMemoryBytes = s.sharedBytes
        t.rejectedMessages = executor.rejects.byReason
        return t
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return  // the listener was closed
            }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            answer(client)
            close(client)
        }
    }

    /// Reads the request head (up to 8 KiB) and writes one response.
    private func answer(_ client: Int32) {
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 2048)
        while request.count < 8192 {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { break }
            request += buffer[0..<n]
            if request.count >= 4, request[...].windowsContain([13, 10, 13, 10]) { break }
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let (status, type, body): (String, String, String)
        if parts.count < 2 {
            (status, type, body) = ("400 Bad Request", "text/plain", "bad request\n")
        } else if parts[0] != "GET" && parts[0] != "HEAD" {
            (status, type, body) = ("405 Method Not Allowed", "text/plain", "only GET and HEAD\n")
        } else {
            switch parts[1].split(separator: "?").first.map(String.init) ?? "" {
            case "/metrics": (status, type, body) = ("200 OK", MetricsEndpoint.contentType, endpoint.exposition())
            case "/healthz", "/": (status, type, body) = ("200 OK", "text/plain", "ok\n")
            default: (status, type, body) = ("404 Not Found", "text/plain", "not found: try /metrics or /healthz\n")
            }
        }
        let payload = Array(body.utf8)
        var response = Array("HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n".utf8)
        if parts.first != "HEAD" { response += payload }
        // send(MSG_NOSIGNAL): a scraper that hung up must not kill the coordinator with SIGPIPE.
        var sent = 0
        while sent < response.count {
            let n = response[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

private extension ArraySlice where Element == UInt8 {
    /// True when `pattern` occurs somewhere in the slice.
    func windowsContain(_ pattern: [UInt8]) -> Bool {
        guard count >= pattern.count else { return false }
        var i = startIndex
        while i <= endIndex - pattern.count {
            if self[i..<(i + pattern.count)].elementsEqual(pattern) { return true }
            i += 1
        }
        return false
    }
}
