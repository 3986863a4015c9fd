import Foundation

/// A thread-safe "please stop" set by signal handlers and polled by long loops (the worker).
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stop = false
    public init() {}
    public func requestStop() { lock.lock(); stop = true; lock.unlock() }
    public var isSet: Bool { lock.lock(); defer { lock.unlock() }; return stop }
}
