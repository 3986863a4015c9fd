// The record, kept in every checkpoint of a run, of the config changes it was resumed with.

import Foundation
import LoomConfig

/// How `TrainingRun.configChangeLog` is stored: one line per resume with changes, in the
/// checkpoint's `/extra` attribute `config_changes` (shown by `loom inspect`).
public enum ConfigChangeLog {
    public static let attribute = "config_changes"

    /// The stored lines (none when the attribute is absent or empty).
    public static func lines(_ stored: String?) -> [String] {
        (stored ?? "").split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// `step 12 at 2026-12-06T08:40:00Z: optimizer.lr: 0.05 -> 0.01; training.seed: 7 -> 8 (breaks an exact resume)`.
    public static func line(step: Int, at date: Date, changes: [ConfigChange]) -> String {
        let time = ISO8601DateFormatter().string(from: date)
        let items = changes.map { "\($0)\($0.breaksExactResume ? " (breaks an exact resume)" : "")" }
        return "step \(step) at \(time): \(items.joined(separator: "; "))"
    }
}

extension TrainingRun {
    /// Records `changes` (made at this resume) in the checkpoints written from now on.
    public func recordConfigChanges(_ changes: [ConfigChange], at date: Date = Date()) {
        guard !changes.isEmpty else { return }
        appendConfigChangeLine(ConfigChangeLog.line(step: state.step, at: date, changes: changes))
    }
}
