// Waiting for a message on any of several transports: a shard server listens to its
// coordinator and to its workers, a worker waiting for weights to its servers. One
// `zmq_poll` over their sockets sleeps until one has something (or the time is up), where
// a loop over the transports with short timeouts would wake up hundreds of times a second
// per process for nothing (docs/SCALING.md, "Where the CPU goes").

import CZeroMQ
import Foundation

public enum TransportWait {
    /// Returns once any of `transports` may have a message to receive, or after `timeout`
    /// (true: something is ready). Transports other than ZeroMQ's (the in-memory ones of
    /// unit tests) are not waited on: with any of them it sleeps at most a millisecond, so
    /// the caller looks again soon. A closed transport counts as ready (its `receive` throws).
    @discardableResult
    public static func any(_ transports: [Transport], timeout: Duration) -> Bool {
        var items: [zmq_pollitem_t] = []
        var others = false
        for transport in transports {
            guard let z = transport as? ZeroMQTransport else { others = true; continue }
            guard let handle = z.openHandle else { return true }
            items.append(zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        var wait = max(0, timeout.roundedUpMilliseconds)
        if others { wait = min(wait, 1) }
        if items.isEmpty {
            if wait > 0 { sleepMilliseconds(wait) }
            return false
        }
        let rc = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), wait) }
        return rc > 0
    }

    private static func sleepMilliseconds(_ ms: Int) {
        var t = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
        var left = timespec()
        while nanosleep(&t, &left) != 0 && errno == EINTR { t = left }
    }
}
