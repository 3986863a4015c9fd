// `loom report` on real runs: the numbers on the page are `loom eval`'s and metrics.csv's,
// bad run directories are clear errors, cluster runs show their workers, and --watch
// follows a run as it grows.

import Foundation
import LoomTestSupport
import Testing

/// Pieces of a report page the tests read.
enum ReportHTML {
    /// The `data-value` of `<td data-metric="metric">` in the row of `head` of the final
    /// evaluation table.
    static func value(_ html: String, head: String, metric: String) -> Double? {
        guard let row = html.range(of: "<tr data-head=\"\(head)\">") else { return nil }
        let rest = html[row.upperBound...]
        guard let cell = rest.range(of: "data-metric=\"\(metric)\" data-value=\""),
              let end = rest[cell.upperBound...].firstIndex(of: "\"") else { return nil }
        return Double(rest[cell.upperBound..<end])
    }

    /// The counts of the confusion matrix cells of `head`, in page order (row by row).
    static func confusionCounts(_ html: String, head: String) -> [Int] {
        guard let start = html.range(of: "data-chart=\"confusion\" data-head=\"\(head)\""),
              let end = html[start.upperBound...].range(of: "</figure>") else { return [] }
        return html[start.upperBound..<end.lowerBound].components(separatedBy: "data-count=\"").dropFirst()
            .compactMap { Int($0.prefix { $0.isNumber }) }
    }

    static func count(_ html: String, _ needle: String) -> Int { html.components(separatedBy: needle).count - 1 }
}

/// Copies of the reference run to report on (the reference itself is shared and read-only).
enum ReportRuns {
    /// The reference run copied into `ws` as `name`, optionally calibrated on its test split.
    static func copy(into ws: Workspace, as name: String, calibrate: Bool) throws -> String {
        let reference = try ReferenceRun.get()
        let dir = ws.path(name)
        try FileManager.default.copyItem(atPath: reference.spec.runDirectory, toPath: dir)
        if calibrate {
            let r = try ws.loom(["calibrate", dir + "/latest.h5", "--split", "test"])
            try #require(r.status == 0, "calibrate: \(r.stderr)")
        }
        return dir
    }
}

@Suite(.serialized) struct ReportCommandTests {
    @Test func thePageShowsTheNumbersLoomEvalAndMetricsCSVHold() throws {
        let ws = try Workspace("report-numbers")
        let run = try ReportRuns.copy(into: ws, as: "run", calibrate: true)
        let r = try ws.loom(["report", run, "--out", ws.path("report.html"), "--markdown", ws.path("results.md")])
        try #require(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: ws.path("report.html"), encoding: .utf8)
        let markdown = try String(contentsOfFile: ws.path("results.md"), encoding: .utf8)

        let eval = try jsonObject(try ws.loom(["eval", "--json", run + "/latest.h5"]).stdout)
        let category = try #require((eval["heads"] as? [String: Any])?["category"] as? [String: Any])
        for metric in ["accuracy", "balanced_accuracy", "top5_accuracy", "nll", "ece"] {
            let expected = try #require(category[metric] as? Double, "\(metric) in eval --json")
            // The page carries the exact Double; JSONSerialization on Linux reads the JSON's
            // shortest form back to within an ulp or two, not always exactly.
            let shown = try #require(ReportHTML.value(html, head: "category", metric: metric), "\(metric) on the page")
            #expect(abs(shown - expected) <= 4 * expected.ulp, "\(metric): page \(shown), eval \(expected)")
        }
        // The Markdown row: accuracy, balanced accuracy and ECE in %, one decimal.
        let row = String(format: "| run | 32 | 4.00 |")
        let figures = ["accuracy", "balanced_accuracy", "ece"].map { String(format: "%.1f", 100 * (category[$0] as? Double ?? .nan)) }
        let line = markdown.split(separator: "\n").first { $0.hasPrefix(row) }.map(String.init) ?? ""
        #expect(line.contains(" | " + figures.joined(separator: " | ") + " | "), "\(line)\n\(figures)")
        #expect(markdown.contains("| band0 | "), "per-class recall rows are class-named")
        let confusion = try #require(category["confusion"] as? [[Int]])
        #expect(ReportHTML.confusionCounts(html, head: "category") == confusion.flatMap { $0 })
        #expect(confusion.flatMap { $0 }.reduce(0, +) == 64, "every test sample in the matrix")
        let names = try #require(category["classes"] as? [String])
        #expect(names.first == "band0" && html.contains("data-true=\"band0\""))

        // Before calibration: eval --uncalibrated's ECE; after: the calibrated one.
        let plain = try jsonObject(try ws.loom(["eval", "--json", "--uncalibrated", run + "/latest.h5"]).stdout)
        let plainECE = try #require(((plain["heads"] as? [String: Any])?["category"] as? [String: Any])?["ece"] as? Double)
        let eces = html.components(separatedBy: "data-chart=\"reliability\"").dropFirst().map { part in
            part.components(separatedBy: "data-ece=\"")[1].prefix { $0 != "\"" }
        }
        #expect(eces == [String(format: "%.4f", plainECE)[...], String(format: "%.4f", category["ece"] as? Double ?? .nan)[...]],
                "\(eces)")

        // The curves are metrics.csv's: one point per logged row.
        let table = try MetricsTable(file: run + "/metrics.csv")
        #expect(html.contains("data-series=\"train loss\" data-points=\"\(table.column("train_loss").filter(\.isFinite).count)\""))
        #expect(html.contains("data-series=\"test loss\" data-points=\"\(table.column("test_loss").filter(\.isFinite).count)\""))
        #expect(html.contains("max_steps: 0"), "the effective config")
    }

    @Test func aMultilabelRunReportsItsMAPAndDrawsNoConfusionForIt() throws {
        let ws = try Workspace("report-multilabel", train: 16, test: 16)
        let data = ws.path("tags.h5")
        try MultilabelDataset.write(to: data, train: 512, test: 64)
        let config = TestPaths.repositoryRoot.appendingPathComponent("configs/multilabel.yaml").path
        let run = ws.path("run")
        let train = try ws.loom(["train", "--config", config, "--set", "data.path=\(data)", "--set", "checkpoint.dir=\(run)",
                                 "--set", "training.epochs=2", "--set", "model.file=models/mlp.yaml"])
        try #require(train.status == 0, "\(train.stderr)")
        let r = try ws.loom(["report", run, "--out", ws.path("r.html"), "--map-head", "category"])
        try #require(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: ws.path("r.html"), encoding: .utf8)
        let eval = try jsonObject(try ws.loom(["eval", "--json", run + "/latest.h5"]).stdout)
        let tags = try #require((eval["heads"] as? [String: Any])?["tags"] as? [String: Any])
        let map = try #require(tags["map"] as? Double)
        let shown = try #require(ReportHTML.value(html, head: "tags", metric: "map"))
        #expect(abs(shown - map) <= 4 * map.ulp)
        #expect(html.contains("data-chart=\"confusion\" data-head=\"category\""))
        #expect(!html.contains("data-chart=\"confusion\" data-head=\"tags\""))
        #expect(html.contains("data-chart=\"pca-map\" data-head=\"category\""))
    }

    @Test func aDirectoryThatIsNoRunIsAClearError() throws {
        let ws = try Workspace("report-bad")
        try FileManager.default.createDirectory(atPath: ws.path("empty"), withIntermediateDirectories: true)
        let r = try ws.loom(["report", ws.path("empty"), "--out", ws.path("r.html")])
        #expect(r.status != 0)
        #expect(r.errorLine?.contains(ws.path("empty")) == true && r.errorLine?.contains("metrics.csv") == true, "\(r.stderr)")
        let missing = try ws.loom(["report", ws.path("nowhere"), "--out", ws.path("r.html")])
        #expect(missing.status != 0 && missing.errorLine?.contains("nowhere") == true, "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("r.html")))

        // A run whose dataset is gone: the evaluation names the file and says how to go on.
        let run = try ReportRuns.copy(into: ws, as: "run", calibrate: false)
        let moved = try ws.loom(["report", run, "--dataset", ws.path("gone.h5"), "--out", ws.path("r.html")])
        #expect(moved.status != 0 && moved.errorLine?.contains("gone.h5") == true, "\(moved.stderr)")
        let logged = try ws.loom(["report", run, "--no-eval", "--out", ws.path("r.html")])
        #expect(logged.status == 0, "\(logged.stderr)")
    }

    @Test func aClusterRunShowsItsWorkers() throws {
        let ws = try Workspace("report-workers")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        spec.epochs = 1
        let train = try ws.loom(spec.arguments(["--workers", "2"]), timeout: 300)
        try #require(train.status == 0, "\(train.stderr)")
        let r = try ws.loom(["report", spec.runDirectory, "--no-eval", "--out", ws.path("r.html")])
        try #require(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: ws.path("r.html"), encoding: .utf8)
        #expect(html.contains("<th>workers</th><td>2 joined, 0 lost</td>"))
    }

    @Test func watchRewritesThePageAsTheRunGrows() throws {
        let ws = try Workspace("report-watch")
        let run = try ReportRuns.copy(into: ws, as: "run", calibrate: false)
        let out = ws.path("live.html")
        let child = try ws.start(["report", run, "--no-eval", "--watch", "1", "--out", out], tag: "watch")
        defer { child.signal(SIGTERM); child.wait() }
        func page() -> String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
        let deadline = Date().addingTimeInterval(30)
        while !page().contains("step 32") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(page().contains("<meta http-equiv=\"refresh\" content=\"1\">"))
        // The run goes on: a row for step 33 appears in metrics.csv.
        let table = try MetricsTable(file: run + "/metrics.csv")
        let row = table.columns.map { $0 == "step" ? "33" : $0 == "epoch" ? "4.125" : "nan" }.joined(separator: ",")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: run + "/metrics.csv"))
        handle.seekToEndOfFile()
        handle.write(Data((row + "\n").utf8))
        try handle.close()
        while !page().contains("step 33") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(page().contains("<td>step 33"), "\(child.stderr.suffix(1000))")
        #expect(child.isRunning)
    }
}
