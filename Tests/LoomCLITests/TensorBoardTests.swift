// Event files from `training.tensorboard` and `loom export-tensorboard`, read back by the
// `tensorboard` package from PyPI: the same scalars as metrics.csv.

import Foundation
import Testing

/// A Python with the `tensorboard` package: $LOOM_TEST_TENSORBOARD_PYTHON, else python3 when
/// it can import it.
enum TensorBoardPython {
    static let executable: String? = pythonImporting("tensorboard.backend.event_processing.event_accumulator",
                                                      overriddenBy: "LOOM_TEST_TENSORBOARD_PYTHON")

    /// Prints `tag step value` for every scalar TensorBoard finds under a log directory.
    static let script = """
    import sys
    from tensorboard.backend.event_processing import event_accumulator
    acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    for tag in sorted(acc.Tags()["scalars"]):
        for e in acc.Scalars(tag):
            print(tag, e.step, repr(e.value))
    """

    /// tag → [(step, value)] as TensorBoard reads `directory`.
    static func scalars(_ directory: String) throws -> [String: [(Int, Double)]] {
        let out = "/tmp/loom-cli-tensorboard-\(getpid())-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(executable))
        p.arguments = ["-c", script, directory]
        p.standardOutput = handle
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try? handle.close()
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        try #require(p.terminationStatus == 0, "tensorboard reader failed: \(text.suffix(1000))")
        var result: [String: [(Int, Double)]] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 3, let step = Int(f[1]), let v = Double(f[2]) else { continue }
            result[String(f[0]), default: []].append((step, v))
        }
        return result
    }
}

@Suite(.serialized) struct TensorBoardTests {
    @Test(.enabled(if: TensorBoardPython.executable != nil,
                   "no Python with the tensorboard package (pip install tensorboard; or set LOOM_TEST_TENSORBOARD_PYTHON): skipped"))
    func tensorBoardReadsTheScalarsOfMetricsCSV() throws {
        let ws = try Workspace("tensorboard")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        spec.epochs = 2
        spec.extra = ["training.tensorboard=\(ws.path("live"))"]
        let train = try ws.loom(spec.arguments(), timeout: 300)
        try #require(train.status == 0, "\(train.stderr)")
        let export = try ws.loom(["export-tensorboard", spec.runDirectory, "--out", ws.path("exported")])
        try #require(export.status == 0, "\(export.stderr)")

        let table = try MetricsTable(file: spec.metricsCSV)
        let steps = table.column("step").map { Int($0) }
        for directory in ["live", "exported"] {
            let read = try TensorBoardPython.scalars(ws.path(directory))
            for column in ["train_loss", "lr", "test_accuracy/category", "test_loss"] {
                let expected = zip(steps, table.column(column)).filter { $0.1.isFinite }
                let got = read[column] ?? []
                #expect(got.map(\.0) == expected.map(\.0), "\(directory) \(column) steps")
                // TensorBoard keeps float32: the value is metrics.csv's rounded to float.
                #expect(got.map(\.1) == expected.map { Double(Float($0.1)) }, "\(directory) \(column) values")
            }
        }
    }
}
