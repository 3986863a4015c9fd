// The page itself: self-contained (no script, nothing fetched), the charts and numbers a
// reader looks for, and one colour per run in a comparison.

import Foundation
import Testing
import LoomCheckpoint
import LoomTraining
@testable import LoomReport

struct ReportPageTests {
    static func snapshot(_ label: String, accuracies: [Double]) -> RunSnapshot {
        var history = MetricsHistory()
        for (i, a) in accuracies.enumerated() {
            history.append(ordered: [("step", Double(10 * (i + 1))), ("epoch", Double(i + 1)), ("lr", i == 2 ? 0.1 : 0.1 / Double(i + 1)),
                                     ("train_loss", 1 / Double(i + 1)), ("test_loss", 1.2 / Double(i + 1)),
                                     ("test_accuracy/category", a), ("samples_per_s", 1000), ("wall_s", Double(i + 1) * 60)])
        }
        return RunSnapshot(directory: "/tmp/runs/\(label)", label: label, history: history, checkpoints: [],
                           latestPath: nil, latest: nil, config: nil)
    }

    static func evaluation() throws -> RunEvaluation {
        var m = SoftmaxMetrics(classes: 2, topK: [])
        try m.add(logits: [3, 0, 0, 3, 3, 0, 1, 0], labels: [0, 1, 1, 0])
        let acc = HeadMetrics.softmax(m)
        let report = EvaluationReport(split: "test", count: 4, heads: [("category", acc.report())],
                                      confusion: [acc.confusion], loss: m.nll, accumulators: [acc], temperatures: [1])
        let heads = [ResolvedHead(name: "category", kind: .softmax, attribute: "category", classes: 2,
                                  classNames: ["shirt", "shoe"], classWeights: nil)]
        var calibrated = report
        calibrated.temperatures = [2]
        return RunEvaluation(checkpoint: "/tmp/runs/a/ckpt-00000040.h5", step: 40,
                             uncalibrated: EvaluationSummary(checkpoint: "c", report: report, heads: heads),
                             calibrated: EvaluationSummary(checkpoint: "c", report: calibrated, heads: heads))
    }

    @Test func aRunPageHasItsChartsAndNumbersAndNeedsNothingFromOutside() throws {
        let page = ReportPage.render([ReportedRun(snapshot: Self.snapshot("a", accuracies: [0.5, 0.7, 0.6, 0.8]),
                                                  evaluation: try Self.evaluation())])
        for chart in ["loss", "lr", "throughput", "head-category", "confusion", "per-class", "reliability"] {
            let drawn = page.contains("data-chart=\"\(chart)\"")
            #expect(drawn, "chart \(chart)")
        }
        let external = ["<script", "http://", "https://", "@import", "url("].filter { page.contains($0) }
        #expect(external.isEmpty)
        // The lr rose after a fall at step 30: one restart marker.
        #expect(page.components(separatedBy: "class=\"marker\"").count - 1 == 1)
        // 2 x 2 cells, class-named; predicted shirt, shoe, shirt, shirt for shirt, shoe, shoe,
        // shirt: 3 of 4 right, one shoe taken for a shirt.
        #expect(page.components(separatedBy: "class=\"cell\"").count - 1 == 4)
        let cell = page.contains("data-true=\"shoe\" data-predicted=\"shirt\" data-count=\"1\"")
        let accuracy = page.contains("data-metric=\"accuracy\" data-value=\"0.75\">75.00%")
        #expect(cell && accuracy)
        // Before and after calibration.
        #expect(page.components(separatedBy: "data-chart=\"reliability\"").count - 1 == 2)
        let after = page.contains("after calibration (T = 2.000)")
        #expect(after)
    }

    @Test func aComparisonHasOneRowAndOneColourPerRun() throws {
        let runs = [ReportedRun(snapshot: Self.snapshot("sgd", accuracies: [0.5, 0.6]), evaluation: nil),
                    ReportedRun(snapshot: Self.snapshot("sgdr", accuracies: [0.55, 0.75]), evaluation: nil)]
        let page = ReportPage.render(runs)
        let rows = page.contains("<tr data-run=\"sgd\">") && page.contains("<tr data-run=\"sgdr\">")
        // sgdr's last accuracy is the best of the column.
        let best = page.contains("data-metric=\"accuracy\" class=\"best\">75.00%")
        #expect(rows && best)
        let chart = try #require(page.range(of: "data-chart=\"compare-train-loss\"").map { String(page[$0.lowerBound...].prefix(6000)) })
        let colours = chart.contains("stroke=\"\(seriesColour(0))\"") && chart.contains("stroke=\"\(seriesColour(1))\"")
        #expect(colours)
        #expect(ReportPage.uniqueLabels(["run", "run", "x"]) == ["run", "run (2)", "x"])
    }

    @Test func textIsEscaped() {
        #expect(HTML.escape("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;")
    }
}
