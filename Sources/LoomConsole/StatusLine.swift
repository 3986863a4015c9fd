// A progress bar on the last line of a terminal that log lines do not break. A log line
// written while the bar is shown first erases the bar's line, then is written with its
// newline, and the bar is drawn again below it: the log keeps whole lines and the bar stays
// at the bottom. Everything goes through one lock, so threads cannot interleave mid-line.

import Foundation

/// The bar line of one output stream (the `loom` command's stderr).
public final class StatusLine: @unchecked Sendable {
    /// Back to column 1 and erase the whole line (VT100 `EL 2`, understood by every terminal
    /// emulator in use).
    public static let erase = "\r\u{1B}[2K"

    private let lock = NSLock()
    private let sink: (String) -> Void
    private var bar: String?

    /// `sink` receives everything to write, in order, one string per call.
    public init(sink: @escaping (String) -> Void) {
        self.sink = sink
    }

    /// True while a bar is drawn.
    public var isShowing: Bool { lock.lock(); defer { lock.unlock() }; return bar != nil }

    /// Writes `text` (whole lines: a missing final newline is added) above the bar.
    public func write(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        let lines = text.hasSuffix("\n") ? text : text + "\n"
        if let bar { sink(Self.erase + lines + bar) } else { sink(lines) }
    }

    /// Draws `text` as the bar, in place of the one shown. `text` must fit the terminal's
    /// width (see `ProgressBar.fit`), else the terminal wraps it and the erase misses a line.
    public func show(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        bar = text
        sink(Self.erase + text)
    }

    /// Leaves the bar on screen as an ordinary line (ends it with a newline); log lines then
    /// go below it.
    public func finish() {
        lock.lock(); defer { lock.unlock() }
        guard bar != nil else { return }
        bar = nil
        sink("\n")
    }

    /// Erases the bar.
    public func remove() {
        lock.lock(); defer { lock.unlock() }
        guard bar != nil else { return }
        bar = nil
        sink(Self.erase)
    }
}
