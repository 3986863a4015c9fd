// The comparison as Markdown, for a results page kept in a repository (docs/RESULTS.md is
// written this way by deploy/experiments/strategies.sh): the same figures as the HTML
// comparison table, per-class recall per head, calibration, and where each run came from.

import Foundation

public enum ReportMarkdown {
    public static func render(_ runs: [ReportedRun], generated: Date = Date()) -> String {
        let labels = ReportPage.uniqueLabels(runs.map(\.snapshot.label))
        let heads = ReportPage.orderedHeads(runs)
        let split = runs.compactMap { $0.evaluation?.final.split }.first ?? "last logged evaluation"
        var md: [String] = []
        let w = { (line: String) in md.append(line) }
        w("# Loom runs: " + labels.joined(separator: ", "))
        w("")
        w("Written by `loom report` on \(ReportPage.timestamp(generated)) from "
          + runs.map { "`\($0.snapshot.directory)`" }.joined(separator: ", ") + ".")
        w("")
        w("## Results on the \(split) split")
        w("")
        w("Accuracy, balanced accuracy (mean per-class recall) and ECE (15 bins) in % of each run's latest checkpoint, "
          + "calibrated when it has temperatures (mAP for multilabel heads). Means are over the heads. "
          + "Best epoch: the evaluation in metrics.csv with the highest mean accuracy over heads.")
        w("")
        var header = "| run | steps | epochs | train loss | \(split) loss |"
        var rule = "| --- | ---: | ---: | ---: | ---: |"
        for h in heads { header += " acc \(h) | bal. \(h) | ECE \(h) |"; rule += " ---: | ---: | ---: |" }
        header += " mean acc | mean bal. | best epoch | wall time |"
        rule += " ---: | ---: | ---: | ---: |"
        w(header); w(rule)
        for (i, run) in runs.enumerated() {
            let s = run.snapshot
            var row = "| \(cell(labels[i])) | \(s.last("step").map { String(Int($0)) } ?? "n/a") | \(HTML.number(s.last("epoch"), digits: 2))"
                + " | \(HTML.number(s.last("train_loss"))) | \(HTML.number(run.evaluation?.final.loss ?? s.last("\(s.evaluationPrefix)_loss"))) |"
            var accuracies: [Double] = [], balanced: [Double] = []
            for h in heads {
                let e = run.evaluation?.final.heads[h]
                let acc = e.map { $0.metric($0.kind == .multilabel ? "map" : "accuracy") } ?? s.last("\(s.evaluationPrefix)_accuracy/\(h)") ?? .nan
                let bal = e?.metric("balanced_accuracy") ?? s.last("\(s.evaluationPrefix)_balanced_accuracy/\(h)") ?? .nan
                let ece = e?.metric("ece") ?? s.last("ece/\(h)") ?? .nan
                if acc.isFinite { accuracies.append(acc) }
                if bal.isFinite { balanced.append(bal) }
                row += " \(pct(acc)) | \(pct(bal)) | \(pct(ece)) |"
            }
            let mean = { (v: [Double]) in v.isEmpty ? Double.nan : v.reduce(0, +) / Double(v.count) }
            let best = s.bestEpoch.map { "\(HTML.number($0.epoch, digits: 2)) (\(pct($0.score)))" } ?? "n/a"
            row += " \(pct(mean(accuracies))) | \(pct(mean(balanced))) | \(best) | \(HTML.duration(s.wallSeconds)) |"
            w(row)
        }
        w("")
        for h in heads {
            let perRun = runs.map { $0.evaluation?.final.heads[h]?.perClass ?? [] }
            guard let classes = perRun.first(where: { !$0.isEmpty }) else { continue }
            w("## Per-class recall of \(h) on the \(split) split (%)")
            w("")
            w("| class | labelled | " + labels.joined(separator: " | ") + " |")
            w("| --- | ---: | " + labels.map { _ in "---:" }.joined(separator: " | ") + " |")
            for (c, figure) in classes.enumerated() {
                w("| \(cell(figure.name)) | \(figure.support) | "
                  + perRun.map { c < $0.count ? pct($0[c].recall ?? .nan) : "n/a" }.joined(separator: " | ") + " |")
            }
            w("")
        }
        let calibrated = runs.enumerated().filter { $0.element.evaluation?.calibrated != nil }
        if !calibrated.isEmpty {
            w("## Calibration")
            w("")
            w("Temperatures stored by `loom calibrate`; ECE on the \(split) split before (T = 1) and after, in %.")
            w("")
            w("| run | head | temperature | ECE before | ECE after |")
            w("| --- | --- | ---: | ---: | ---: |")
            for (i, run) in calibrated {
                guard let e = run.evaluation, let after = e.calibrated else { continue }
                for name in after.headOrder {
                    guard let cal = after.heads[name]?.calibration, cal.temperature != 1 else { continue }
                    let before = e.uncalibrated.heads[name]?.calibration?.ece
                    w("| \(labels[i]) | \(name) | \(HTML.number(cal.temperature, digits: 3)) | \(pct(before ?? .nan)) | \(pct(cal.ece ?? .nan)) |")
                }
            }
            w("")
        }
        w("## Runs")
        w("")
        w("| run | directory | run id | latest checkpoint | dataset fingerprint | kernels | workers |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        for (i, run) in runs.enumerated() {
            let s = run.snapshot, c = s.latest
            let kernels = c.map { $0.blasCore.isEmpty ? "not recorded" : "OpenBLAS \($0.blasCore), Loom \($0.loomKernelPath)" } ?? "n/a"
            let workers = s.workers.map { "\($0.joined) joined, \($0.lost) lost" } ?? "one process"
            w("| \(cell(labels[i])) | `\(s.directory)` | `\(c?.runID ?? "n/a")` | step \(c.map { String($0.step) } ?? "n/a")"
              + " | `\(c?.datasetFingerprint ?? "n/a")` | \(kernels) | \(workers) |")
        }
        return md.joined(separator: "\n") + "\n"
    }

    /// Text safe inside a table cell.
    static func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }

    /// A share in % with one decimal, `n/a` when undefined.
    static func pct(_ v: Double) -> String { v.isFinite ? String(format: "%.1f", 100 * v) : "n/a" }
}
