import ArgumentParser
import Foundation
import Logging

/// SIGTERM and SIGINT for the commands that make one result (`import`, `eval`, `calibrate`,
/// `predict`): the handler only records the signal; the work sees it at its next check (a
/// megabyte read, a slab of rows written, a chunk of samples predicted: well under a
/// second), gives up, removes what it had started to write, and the command exits with
/// 128 + the signal's number (143 for SIGTERM, 130 for SIGINT), the status a shell gives a
/// process killed by that signal: the result was not made.
final class CommandStop: @unchecked Sendable {
    private let lock = NSLock()
    private var signalName: String?

    /// Installs the handlers; call it first thing in the command.
    static func install() -> CommandStop {
        let stop = CommandStop()
        SignalHandling.install(stop: { reason in stop.record(reason.hasPrefix("SIGINT") ? "SIGINT" : "SIGTERM") })
        return stop
    }

    private func record(_ name: String) {
        lock.lock(); defer { lock.unlock() }
        if signalName == nil { signalName = name }
    }

    /// True once SIGTERM or SIGINT arrived.
    var isRequested: Bool { lock.lock(); defer { lock.unlock() }; return signalName != nil }

    /// A check for library code (`ImportControl.shouldStop`, `LocalExecutor.shouldStop`).
    var check: @Sendable () -> Bool { { [self] in isRequested } }

    /// Logs that the command stopped and why, and gives the exit status to throw.
    func exit(_ logger: Logger, _ what: String) -> ExitCode {
        lock.lock()
        let name = signalName ?? "SIGTERM"
        lock.unlock()
        logger.notice("\(name) received: \(what)")
        return ExitCode(128 + (name == "SIGINT" ? SIGINT : SIGTERM))
    }
}
