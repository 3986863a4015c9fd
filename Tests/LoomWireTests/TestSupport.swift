import Foundation
import LoomWire
import LoomTestSupport

/// Polls `condition` every 10 ms for up to `seconds`; true once it holds.
func eventually(within seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return condition()
}

/// A fresh empty directory under the system temporary directory.
func makeTemporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("loom-wire-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// An ipc:// endpoint unique to this test run.
func uniqueIPCEndpoint() -> String {
    "ipc:///tmp/loom-wire-\(getpid())-\(UUID().uuidString.prefix(8)).ipc"
}

/// Worker sends hello, coordinator answers welcome: returns the worker's PeerID as seen by
/// the coordinator, or nil if the hello never arrived within `seconds`.
func handshake(coordinator: Transport, worker: Transport, seconds: Double = 5) throws -> PeerID? {
    try worker.send(.hello(SampleMessages.hello), to: .coordinator)
    guard let envelope = try coordinator.receive(timeout: .milliseconds(Int(seconds * 1000))) else { return nil }
    try coordinator.send(.welcome(SampleMessages.welcome), to: envelope.peer)
    return envelope.peer
}
