// The uninterrupted single-process run every interrupted run is compared with, trained
// once per test process and shared, and the comparison itself.

import Foundation
import Testing

/// The one uninterrupted `loom train --workers 0` run of `TrainSpec`'s defaults.
final class ReferenceRun: @unchecked Sendable {
    let workspace: Workspace
    let spec: TrainSpec

    private init() throws {
        workspace = try Workspace("reference")
        // Shared for the life of the test process: removed when it exits.
        referenceDirectory = workspace.directory.path
        atexit { if let d = referenceDirectory { try? FileManager.default.removeItem(atPath: d) } }
        spec = TrainSpec(workspace: workspace, run: "run")
        let result = try workspace.loom(spec.arguments(), timeout: 300)
        guard result.status == 0 else {
            throw CLIFailure("the reference run failed (\(result.status)): \(result.stderr.suffix(2000))")
        }
    }

    /// Trained at first use; a failure is reported by every test that needs it.
    static let shared: Result<ReferenceRun, any Error> = Result { try ReferenceRun() }

    static func get() throws -> ReferenceRun { try shared.get() }

    /// Expects `other`'s final checkpoint and history to be the reference's, bit for bit
    /// (the timing columns aside): `loom diff` exit 0, equal metrics.csv and equal
    /// `/metrics` history in the checkpoint.
    func expectSame(as other: TrainSpec, in workspace: Workspace, _ what: String,
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
        let diff = try workspace.loom(["diff", spec.latest, other.latest])
        #expect(diff.status == 0, "\(what): loom diff says the final weights differ:\n\(diff.stdout.prefix(3000))\(diff.stderr)",
                sourceLocation: sourceLocation)
        let mine = try MetricsTable(file: spec.metricsCSV).withoutTimings
        let theirs = try MetricsTable(file: other.metricsCSV).withoutTimings
        #expect(mine.rows.count == spec.totalSteps, "\(what): reference history has \(mine.rows.count) rows",
                sourceLocation: sourceLocation)
        #expect(mine == theirs, "\(what): metrics.csv differs: \(mine.firstDifference(from: theirs))",
                sourceLocation: sourceLocation)
        let a = try workspace.loom(["inspect", "--metrics-csv", spec.latest])
        let b = try workspace.loom(["inspect", "--metrics-csv", other.latest])
        let historyA = MetricsTable(csv: a.stdout).withoutTimings
        let historyB = MetricsTable(csv: b.stdout).withoutTimings
        #expect(!historyA.rows.isEmpty && historyA == historyB,
                "\(what): checkpoint history differs: \(historyA.firstDifference(from: historyB))",
                sourceLocation: sourceLocation)
    }
}

/// The reference run's directory, for the exit handler (which cannot capture context).
nonisolated(unsafe) private var referenceDirectory: String?

/// A test precondition that failed, with the reason.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
