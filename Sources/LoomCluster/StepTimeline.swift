// A record of when a process's step events happened (`--timeline PATH` on `loom worker`,
// `loom server` and the bench's coordinator half), to see where a step's time goes across
// the processes of the multi-host test bed: when each worker got its assignment and the last
// weights it needed, when each gradient range left and arrived, when each server completed
// each range, when the coordinator had every result (docs/SCALING.md, "A step's timeline").
//
// The clock is CLOCK_MONOTONIC, which the bed's network namespaces share with the machine,
// so the files of all the processes merge into one timeline (`deploy/bench/timeline.py`).
// Events are kept in memory and written in batches of tab-separated lines
//     <ns> <role> <event> <step> <a> <b>
// so that recording costs no system call per event.

import Foundation

/// What happened (the `event` column).
public enum TimelineEvent: String, Sendable {
    // Coordinator: a step's update to the servers and its first assignment; a worker's
    // result in (a = the worker's join serial); a server's `updated` in (a = its shard);
    // the step's end (every result and every `updated` in).
    case stepStart = "step-start", resultIn = "result-in", updatedIn = "updated-in", stepEnd = "step-end"
    // Worker: an assignment in; the last slice of its weights in; a gradient range pushed
    // (a, b = its elements); the result sent.
    case assigned, weightsComplete = "weights-complete", pushed, resultSent = "result-sent"
    // Worker: a weights range in (a, b = its elements; step = its version).
    case sliceIn = "slice-in"
    // Server: the coordinator's update in; a gradient range in (a, b = its elements, of the
    // parameters); a range of the slice stepped and sent on (a, b); its `updated` sent.
    case updateIn = "update-in", gradientIn = "gradient-in", rangeStepped = "range-stepped", updatedSent = "updated-sent"
}

/// Events of one process, written to one file.
public final class StepTimeline: @unchecked Sendable {
    private struct Record {
        var ns: UInt64
        var event: TimelineEvent
        var step: UInt64
        var a: Int
        var b: Int
    }

    public let role: String
    private let handle: FileHandle
    private let lock = NSLock()
    private var records: [Record] = []
    private let batch: Int

    /// Opens (creates or truncates) `path`; `role` names the process in every line (`w3`, `s0`, `c`).
    public init(path: String, role: String, batch: Int = 2048) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        self.handle = handle
        self.role = role
        self.batch = max(1, batch)
        records.reserveCapacity(self.batch)
    }

    /// The role a file's name gives: its name without directory and extension (`w3` for `/tmp/tl/w3.tsv`).
    public static func role(of path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    /// Now on CLOCK_MONOTONIC, in nanoseconds.
    public static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    public func record(_ event: TimelineEvent, step: UInt64, _ a: Int = 0, _ b: Int = 0) {
        let ns = Self.now()
        lock.lock()
        records.append(Record(ns: ns, event: event, step: step, a: a, b: b))
        let full = records.count >= batch
        lock.unlock()
        if full { flush() }
    }

    /// Writes the events held so far.
    public func flush() {
        lock.lock()
        let held = records
        records.removeAll(keepingCapacity: true)
        lock.unlock()
        guard !held.isEmpty else { return }
        var text = ""
        text.reserveCapacity(held.count * 48)
        for r in held { text += "\(r.ns)\t\(role)\t\(r.event.rawValue)\t\(r.step)\t\(r.a)\t\(r.b)\n" }
        handle.write(Data(text.utf8))
    }

    deinit {
        flush()
        try? handle.close()
    }
}
