// `--metrics-port` has no authentication: it listens on 127.0.0.1 unless `--metrics-bind`
// names another address (issue 23: it listened on 0.0.0.0 even with --keys and a loopback
// bind). Real `loom worker` processes and real TCP connections.

import Foundation
import LoomTestSupport
import Testing

/// An IPv4 address of this machine that is not loopback, if it has one.
private func nonLoopbackAddress() -> String? {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return nil }
    defer { freeifaddrs(list) }
    var node: UnsafeMutablePointer<ifaddrs>? = first
    while let entry = node {
        defer { node = entry.pointee.ifa_next }
        guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet4 in
            var a = inet4.pointee.sin_addr
            _ = inet_ntop(AF_INET, &a, &text, socklen_t(text.count))
        }
        let shown = String(cString: text)
        if !shown.hasPrefix("127.") { return shown }
    }
    return nil
}

/// Whether a TCP connection to `host:port` is accepted.
private func accepts(_ host: String, _ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    inet_pton(AF_INET, host, &address.sin_addr)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

@Suite struct MetricsBindTests {
    /// Starts a worker (its coordinator need not exist) serving metrics; returns it and its port.
    private func worker(_ extra: [String], in directory: URL, tag: String) throws -> (LoomChild, Int) {
        // --exit-with-parent: gone with this test process even if it dies before its defers.
        let child = try Loom.start(["worker", "--connect", "ipc://\(directory.path)/none.sock", "--exit-with-parent",
                                    "--metrics-port", "0"] + extra,
                                   in: directory, tag: tag)
        #expect(child.waitForLog("/metrics (probe: /healthz)", timeout: 30), "\(child.stderr)")
        // "... metrics on http://127.0.0.1:PORT/metrics (probe: /healthz)"
        let line = try #require(child.stderr.split(separator: "\n").first { $0.contains("metrics on http://") })
        let hostAndPort = try #require(line.components(separatedBy: "http://").last?.components(separatedBy: "/metrics").first)
        let port = try #require(hostAndPort.split(separator: ":").last.flatMap { Int($0) })
        return (child, port)
    }

    @Test func theMetricsPortListensOnLoopbackByDefault() throws {
        let directory = try TestPaths.temporaryDirectory("loom-metrics-bind")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (child, port) = try worker([], in: directory, tag: "default")
        defer { child.signal(SIGKILL); child.wait(timeout: 10) }
        #expect(child.stderr.contains("metrics on http://127.0.0.1:\(port)/metrics"))
        #expect(accepts("127.0.0.1", port))
        if let outside = nonLoopbackAddress() {
            #expect(!accepts(outside, port), "the metrics port answers on \(outside)")
        }
    }

    @Test(.enabled(if: nonLoopbackAddress() != nil, "this machine has no IPv4 address besides loopback"))
    func metricsBindOpensTheAddressGiven() throws {
        let directory = try TestPaths.temporaryDirectory("loom-metrics-bind")
        defer { try? FileManager.default.removeItem(at: directory) }
        let outside = try #require(nonLoopbackAddress())
        let (child, port) = try worker(["--metrics-bind", "0.0.0.0"], in: directory, tag: "all")
        defer { child.signal(SIGKILL); child.wait(timeout: 10) }
        #expect(accepts(outside, port))
        #expect(accepts("127.0.0.1", port))
    }

    @Test func aMetricsBindThatIsNoIPv4AddressIsAnError() throws {
        let directory = try TestPaths.temporaryDirectory("loom-metrics-bind")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Loom.run(["worker", "--connect", "ipc:///tmp/none.sock", "--metrics-port", "0",
                                   "--metrics-bind", "eth0"], in: directory, timeout: 30)
        #expect(result.status != 0)
        #expect(result.stderr.contains("--metrics-bind must be an IPv4 address"), "\(result.stderr)")
    }
}
