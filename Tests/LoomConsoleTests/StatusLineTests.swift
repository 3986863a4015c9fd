// The bar line and the log lines written around it: what reaches the terminal, byte for
// byte, and the bar's text.

import Foundation
import LoomConsole
import LoomTestSupport
import Testing

/// Collects what a StatusLine writes.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [String] = []
    func append(_ s: String) { lock.lock(); parts.append(s); lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return parts.joined() }
}

@Suite struct StatusLineTests {
    @Test func aLogLineWithoutABarIsWrittenAsIs() {
        let out = Recorder()
        let status = StatusLine(sink: out.append)
        status.write("first\n")
        status.write("second")
        #expect(out.text == "first\nsecond\n")
        #expect(!status.isShowing)
    }

    /// The bug this fixes: a log line written while the bar is shown landed glued onto it.
    @Test func aLogLineErasesTheBarThenDrawsItAgainBelow() {
        let out = Recorder()
        let status = StatusLine(sink: out.append)
        status.show("epoch 1/2 [##  ]")
        status.write("info validation: loss 0.5\n")
        #expect(out.text == "\r\u{1B}[2Kepoch 1/2 [##  ]" + "\r\u{1B}[2Kinfo validation: loss 0.5\n" + "epoch 1/2 [##  ]")
        // On a terminal this leaves the log line whole on its own line and the bar last.
        #expect(TerminalScreen.lines(out.text) == ["info validation: loss 0.5", "epoch 1/2 [##  ]"])
    }

    @Test func finishLeavesTheBarAsALineAndLogsGoBelowIt() {
        let out = Recorder()
        let status = StatusLine(sink: out.append)
        status.show("epoch 1/2 [#   ]")
        status.show("epoch 1/2 [####]")
        status.finish()
        status.write("info checkpoint\n")
        status.show("epoch 2/2 [#   ]")
        #expect(TerminalScreen.lines(out.text) == ["epoch 1/2 [####]", "info checkpoint", "epoch 2/2 [#   ]"])
        status.remove()
        #expect(!status.isShowing)
        #expect(TerminalScreen.lines(out.text) == ["epoch 1/2 [####]", "info checkpoint", ""])
    }

    /// Threads logging while the bar is redrawn never split a line.
    @Test func concurrentLogLinesStayWhole() {
        let out = Recorder()
        let status = StatusLine(sink: out.append)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in 0..<50 {
                if t == 0 { status.show("bar \(i)") } else { status.write("thread \(t) line \(i)\n") }
            }
        }
        let lines = TerminalScreen.lines(out.text).filter { $0.hasPrefix("thread") }
        #expect(lines.count == 7 * 50)
        #expect(lines.allSatisfy { $0.range(of: #"^thread \d line \d+$"#, options: .regularExpression) != nil })
    }
}

@Suite struct ProgressBarTests {
    @Test func theBarSaysTitleTotalsAndDetails() {
        let text = ProgressBar.render(title: "epoch 2/4", done: 3, total: 8, unit: "steps",
                                      details: ["step 11/32", "ETA 0:12"], width: 8)
        #expect(text == "epoch 2/4 [###     ]  37% 3/8 steps  step 11/32  ETA 0:12")
        #expect(ProgressBar.render(title: "t", done: 8, total: 8, unit: "x", width: 4) == "t [####] 100% 8/8 x")
        #expect(ProgressBar.render(title: "t", done: 0, total: 0, unit: "x", width: 4) == "t [    ]   0% 0/0 x")
    }

    @Test func theBarFitsTheTerminal() {
        let long = ProgressBar.render(title: "import", done: 1, total: 2, unit: "images", details: [String(repeating: "x", count: 200)],
                                      columns: 80)
        #expect(long.count == 79)
        #expect(ProgressBar.fit("short", columns: 80) == "short")
        #expect(ProgressBar.fit("short", columns: nil) == "short")
    }

    @Test func durations() {
        #expect(ProgressBar.duration(75) == "1:15")
        #expect(ProgressBar.duration(3725) == "1:02:05")
        #expect(ProgressBar.duration(.nan) == "?")
        #expect(ProgressBar.duration(-1) == "?")
        #expect(ProgressBar.remaining(done: 25, total: 100, elapsed: 10) == 30)
        #expect(ProgressBar.remaining(done: 0, total: 100, elapsed: 10).isNaN)
    }
}
