import CSystem
import Foundation
import Logging
import LoomConsole
import LoomTraining
import ArgumentParser

/// The `loom` command's stderr, which log lines and the progress bar share: every log line
/// goes through `status`, which erases the bar first and draws it again after.
enum Console {
    /// Bars are drawn only when stderr is a terminal and LOOM_NO_PROGRESS is not set;
    /// otherwise progress is a log line now and then.
    static let drawsBars = FileManagerShim.isTerminal && ProcessInfo.processInfo.environment["LOOM_NO_PROGRESS"] == nil
    static let status = StatusLine { FileHandle.standardError.write(Data($0.utf8)) }
    /// The terminal's width, when stderr is one that says.
    static var columns: Int? {
        let c = Int(loom_terminal_columns(STDERR_FILENO))
        return c > 0 ? c : nil
    }
}

/// Progress of one piece of work of known size (an import, an evaluation, a calibration):
/// a bar on a terminal; else a log line every `logEvery` seconds. What the work is and how
/// it ended the command logs itself.
final class WorkProgress {
    private let logger: Logger
    private let title: String
    private let unit: String
    private let logEvery: Double
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastLog: Date

    init(logger: Logger, title: String, unit: String, logEvery: Double = 10) {
        self.logger = logger
        self.title = title
        self.unit = unit
        self.logEvery = logEvery
        lastLog = start
    }

    /// `done` of `total` units are done (`detail`: more to show, e.g. "3 skipped"). Draws
    /// at most ten times a second (and always the last).
    func update(done: Int, total: Int, detail: String = "") {
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = ProgressBar.duration(ProgressBar.remaining(done: done, total: total, elapsed: elapsed))
        if Console.drawsBars {
            guard done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
            lastDraw = now
            Console.status.show(ProgressBar.render(title: title, done: done, total: total, unit: unit,
                                                   details: [detail, String(format: "%.0f %@/s", rate, unit), "ETA \(eta)"],
                                                   columns: Console.columns))
        } else if done < total && now.timeIntervalSince(lastLog) >= logEvery {
            lastLog = now
            logger.info("\(title): \(done)/\(total) \(unit) (\(100 * done / max(total, 1))%)\(detail.isEmpty ? "" : ", " + detail), \(String(format: "%.0f", rate)) \(unit)/s, ETA \(eta)")
        }
    }

    /// The work ended (done, stopped or failed): the bar stays on screen as it was.
    func finish() {
        if Console.drawsBars { Console.status.finish() }
    }
}

/// A `LocalExecutor`'s predictions for a command (`eval`, `calibrate`): progress shown,
/// stopped by `stop` between two chunks (the executor then throws `.stopRequested`).
final class PredictionProgress {
    private let progress: WorkProgress
    private let stop: CommandStop
    private let logger: Logger
    private(set) var done = 0
    private(set) var total = 0

    init(executor: LocalExecutor, stop: CommandStop, logger: Logger, title: String) {
        progress = WorkProgress(logger: logger, title: title, unit: "samples")
        self.stop = stop
        self.logger = logger
        executor.shouldStop = stop.check
        executor.onPredictProgress = { [unowned self] done, total in
            self.done = done
            self.total = total
            progress.update(done: done, total: total)
        }
    }

    func finish() { progress.finish() }

    /// The exit status of a stopped command, logged with how far the predictions were.
    func stopped(_ what: String) -> ExitCode {
        progress.finish()
        return stop.exit(logger, "\(what) after \(done) of \(total) samples")
    }
}
