import Foundation
import Logging

/// How log lines are written: `text` for people, `json` (one object per line) for log shippers.
enum LogFormat: String, CaseIterable, Sendable {
    case text, json
}

/// Installs the process-wide swift-log backend. Called once, first thing in every command.
enum LogSetup {
    nonisolated(unsafe) private static var done = false

    static func bootstrap(format: LogFormat, level: Logger.Level, process: String) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, process: process, format: format)
            handler.logLevel = level
            return handler
        }
    }
}

/// One line per event on stderr: `text` (`2026-11-23T12:00:00.123Z info coordinator: message
/// key=value`) or `json` (one object with ts, level, process, label, msg and the metadata).
struct LineLogHandler: LogHandler {
    let label: String
    let process: String
    let format: LogFormat
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        switch format {
        case .text:
            var text = "\(LogClock.timestamp()) \(event.level) \(process): \(event.message)"
            for key in merged.keys.sorted() { text += " \(key)=\(merged[key]!)" }
            StandardError.write(text + "\n")
        case .json:
            var object: [String: String] = [
                "ts": LogClock.timestamp(), "level": "\(event.level)", "process": process,
                "label": label, "msg": "\(event.message)",
            ]
            for (key, value) in merged { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            StandardError.write((String(data: data, encoding: .utf8) ?? "{}") + "\n")
        }
    }
}

enum LogClock {
    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}

/// Unbuffered writes of whole lines to stderr, above the progress bar when one is shown
/// (`Console.status`): log lines neither interleave mid-line between threads nor land on
/// the bar.
enum StandardError {
    static func write(_ text: String) {
        Console.status.write(text)
    }
}
