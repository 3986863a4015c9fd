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
            var handler: LogHandler
            switch format {
            case .text: handler = TextLogHandler(label: label, process: process)
            case .json: handler = JSONLogHandler(label: label, process: process)
            }
            handler.logLevel = level
            return handler
        }
    }
}

/// Writes `2026-11-23T12:00:00.123Z info coordinator: message key=value` lines to stderr.
struct TextLogHandler: LogHandler {
    let label: String
    let process: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?,
             source: String, file: String, function: String, line: UInt) {
        let merged = metadata.merging(extra ?? [:]) { $1 }
        var text = "\(LogClock.timestamp()) \(level) \(process): \(message)"
        for key in merged.keys.sorted() { text += " \(key)=\(merged[key]!)" }
        StandardError.write(text + "\n")
    }
}

/// One JSON object per line: ts, level, process, label, msg and the metadata as fields.
struct JSONLogHandler: LogHandler {
    let label: String
    let process: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?,
             source: String, file: String, function: String, line: UInt) {
        var object: [String: String] = [
            "ts": LogClock.timestamp(), "level": "\(level)", "process": process,
            "label": label, "msg": "\(message)",
        ]
        for (key, value) in metadata.merging(extra ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = "\(value)"
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        StandardError.write((String(data: data, encoding: .utf8) ?? "{}") + "\n")
    }
}

enum LogClock {
    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}

/// Unbuffered writes to stderr (log lines must not interleave mid-line between threads).
enum StandardError {
    static let lock = NSLock()
    static func write(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(text.data(using: .utf8)!)
    }
}
