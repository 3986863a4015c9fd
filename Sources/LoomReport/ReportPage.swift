// The report: one self-contained HTML page (inline CSS and SVG; no script, no font or
// anything else fetched) about one run or a comparison of several.
//
// Order on the page: comparison (several runs: a table of final figures and overlaid
// curves, one colour per run), then one section per run: facts, curves against step (loss,
// learning rate with warm restarts marked, samples/s), per-head accuracy and balanced
// accuracy against epoch, the final evaluation (metrics table; per head the confusion
// matrix, recall/precision bars and reliability diagrams before and after calibration)
// and the effective config.

import Foundation
import LoomCheckpoint

/// One run and, when it was evaluated, its final evaluation.
public struct ReportedRun: Sendable {
    public var snapshot: RunSnapshot
    public var evaluation: RunEvaluation?
    /// A sample of the evaluation split, embedded, for the feature map.
    public var embedding: EmbeddingSet?
    public init(snapshot: RunSnapshot, evaluation: RunEvaluation?, embedding: EmbeddingSet? = nil) {
        self.snapshot = snapshot; self.evaluation = evaluation; self.embedding = embedding
    }
}

public enum ReportPage {
    /// The page for `runs`, stamped with `generated`. `refreshSeconds` adds a meta refresh
    /// (for `loom report --watch`, so an open browser tab follows the file).
    /// `mapHead` chooses the head whose classes colour the feature map (default: the first
    /// softmax head).
    public static func render(_ runs: [ReportedRun], generated: Date = Date(), refreshSeconds: Int? = nil,
                              mapHead: String? = nil) -> String {
        let labels = uniqueLabels(runs.map(\.snapshot.label))
        let title = runs.count == 1 ? "Loom run \(labels[0])" : "Loom runs: " + labels.joined(separator: ", ")
        var out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        if let refreshSeconds { out += "<meta http-equiv=\"refresh\" content=\"\(refreshSeconds)\">" }
        out += "<meta name=\"generator\" content=\"loom report\">"
        out += "<title>\(HTML.escape(title))</title><style>\(css)</style></head><body>"
        out += "<header><h1>\(HTML.escape(title))</h1><p class=\"meta\">Written \(timestamp(generated)) by <code>loom report</code> from "
        out += runs.map { "<code>\(HTML.escape($0.snapshot.directory))</code>" }.joined(separator: ", ")
        out += " (metrics.csv and checkpoints)\(refreshSeconds.map { "; rewritten every \($0) s" } ?? "").</p></header>"
        if runs.count > 1 {
            out += comparison(runs, labels: labels)
        }
        for (i, run) in runs.enumerated() {
            out += runSection(run, label: labels[i], index: i, open: runs.count == 1, mapHead: mapHead)
        }
        out += "</body></html>\n"
        return out
    }

    // MARK: - Comparison

    static func comparison(_ runs: [ReportedRun], labels: [String]) -> String {
        var out = "<section id=\"comparison\"><h2>Comparison</h2>"
        let heads = orderedHeads(runs)
        let finalSplit = runs.compactMap { $0.evaluation?.final.split }.first
        let logged = runs.first?.snapshot.evaluationPrefix == "val" ? "validation" : "test"
        out += "<table class=\"comparison\"><thead><tr><th>run</th><th>steps</th><th>epochs</th><th>train loss</th><th>\(HTML.escape(finalSplit ?? logged)) loss</th>"
        for h in heads { out += "<th>\(HTML.escape(h)) accuracy</th><th>\(HTML.escape(h)) balanced</th><th>\(HTML.escape(h)) ECE</th>" }
        out += "<th>best epoch</th><th>wall time</th></tr></thead><tbody>"
        // Per head column, the best run (highest accuracy, lowest ECE) is bold.
        func figure(_ run: ReportedRun, _ head: String, _ metric: String) -> Double? {
            if let e = run.evaluation?.final.heads[head] {
                let v = e.metric(metric == "accuracy" && e.kind == .multilabel ? "map" : metric)
                return v.isFinite ? v : nil
            }
            let prefix = run.snapshot.evaluationPrefix
            let column = metric == "ece" ? "ece/\(head)" : "\(prefix)_\(metric)/\(head)"
            return run.snapshot.last(column) ?? (metric == "accuracy" ? run.snapshot.last("\(prefix)_map/\(head)") : nil)
        }
        var best: [String: Double] = [:]
        for h in heads {
            for m in ["accuracy", "balanced_accuracy", "ece"] {
                let values = runs.compactMap { figure($0, h, m) }
                if let b = m == "ece" ? values.min() : values.max() { best["\(h)|\(m)"] = b }
            }
        }
        for (i, run) in runs.enumerated() {
            let s = run.snapshot
            out += "<tr data-run=\"\(HTML.escape(labels[i]))\"><th><span class=\"swatch\" style=\"background:\(seriesColour(i))\"></span><a href=\"#run-\(i)\">\(HTML.escape(labels[i]))</a></th>"
            out += "<td>\(s.last("step").map { String(Int($0)) } ?? "n/a")</td><td>\(HTML.number(s.last("epoch"), digits: 2))</td>"
            out += "<td>\(HTML.number(s.last("train_loss")))</td>"
            out += "<td>\(HTML.number(run.evaluation?.final.loss ?? s.last("\(s.evaluationPrefix)_loss")))</td>"
            for h in heads {
                for m in ["accuracy", "balanced_accuracy", "ece"] {
                    let v = figure(run, h, m)
                    let isBest = v != nil && runs.count > 1 && v == best["\(h)|\(m)"]
                    out += "<td data-head=\"\(HTML.escape(h))\" data-metric=\"\(m)\"\(isBest ? " class=\"best\"" : "")>\(HTML.percent(v, digits: 2))</td>"
                }
            }
            let bestEpoch = s.bestEpoch.map { "\(HTML.number($0.epoch, digits: 2)) (\(HTML.percent($0.score)))" } ?? "n/a"
            out += "<td>\(bestEpoch)</td><td>\(HTML.duration(s.wallSeconds))</td></tr>"
        }
        out += "</tbody></table>"
        out += "<p class=\"note\">Accuracy, balanced accuracy (mean per-class recall) and ECE (15 bins) of the final evaluation"
        out += " of each run's latest checkpoint (calibrated when it has temperatures; mAP for multilabel heads), or the last"
        out += " logged evaluation when it was not evaluated. Best epoch: the evaluation with the highest mean accuracy over heads"
        out += " in metrics.csv. Bold: the best run in the column.</p>"
        out += "<div class=\"charts\">"
        let colour = { (i: Int) in seriesColour(i) }
        out += LineChart(id: "compare-train-loss", title: "Training loss", xLabel: "step", yLabel: "loss",
                         series: runs.enumerated().map { ChartSeries(label: labels[$0], colour: colour($0), points: $1.snapshot.series("train_loss")) }).render()
        out += LineChart(id: "compare-eval-loss", title: "\(logged.capitalized) loss", xLabel: "step", yLabel: "loss",
                         series: runs.enumerated().map { i, r in
                             ChartSeries(label: labels[i], colour: colour(i), points: r.snapshot.series("\(r.snapshot.evaluationPrefix)_loss"), dots: true)
                         }).render()
        out += LineChart(id: "compare-lr", title: "Learning rate", xLabel: "step", yLabel: "learning rate",
                         series: runs.enumerated().map { ChartSeries(label: labels[$0], colour: colour($0), points: $1.snapshot.series("lr")) },
                         yIncludes: [0], yFormat: { String(format: "%.3g", $0) }).render()
        out += LineChart(id: "compare-throughput", title: "Throughput", xLabel: "step", yLabel: "samples/s",
                         series: runs.enumerated().map { ChartSeries(label: labels[$0], colour: colour($0), points: $1.snapshot.series("samples_per_s").filter { $0.1 > 0 }) },
                         yIncludes: [0], yFormat: { String(format: "%.0f", $0) }).render()
        for h in heads {
            out += LineChart(id: "compare-accuracy-\(h)", title: "\(h): \(logged) accuracy", xLabel: "epoch", yLabel: "accuracy",
                             series: runs.enumerated().map { i, r in
                                 let s = r.snapshot, p = s.evaluationPrefix
                                 let points = s.series("\(p)_accuracy/\(h)", against: "epoch")
                                 return ChartSeries(label: labels[i], colour: colour(i),
                                                    points: points.isEmpty ? s.series("\(p)_map/\(h)", against: "epoch") : points, dots: true)
                             }, yFormat: { HTML.percent($0) }).render()
            let balanced = runs.map { $0.snapshot.series("\($0.snapshot.evaluationPrefix)_balanced_accuracy/\(h)", against: "epoch") }
            if balanced.contains(where: { !$0.isEmpty }) {
                out += LineChart(id: "compare-balanced-\(h)", title: "\(h): \(logged) balanced accuracy", xLabel: "epoch", yLabel: "balanced accuracy",
                                 series: balanced.enumerated().map { ChartSeries(label: labels[$0], colour: colour($0), points: $1, dots: true) },
                                 yFormat: { HTML.percent($0) }).render()
            }
        }
        out += "</div></section>"
        return out
    }

    // MARK: - One run

    static func runSection(_ run: ReportedRun, label: String, index: Int, open: Bool, mapHead: String? = nil) -> String {
        let s = run.snapshot
        var out = "<section class=\"run\" id=\"run-\(index)\" data-run=\"\(HTML.escape(label))\"><details\(open ? " open" : "")>"
        out += "<summary><h2><span class=\"swatch\" style=\"background:\(seriesColour(index))\"></span>Run \(HTML.escape(label))</h2></summary>"
        out += facts(s)
        out += "<h3>Training curves</h3><div class=\"charts\">"
        let prefix = s.evaluationPrefix
        let splitName = prefix == "val" ? "validation" : "test"
        out += LineChart(id: "loss", title: "Loss", xLabel: "step", yLabel: "loss", series: [
            ChartSeries(label: "train loss", colour: seriesColour(0), points: s.series("train_loss")),
            ChartSeries(label: "\(splitName) loss", colour: seriesColour(1), points: s.series("\(prefix)_loss"), dots: true),
        ].filter { !$0.points.isEmpty }).render()
        let restarts = s.restartSteps
        out += LineChart(id: "lr", title: "Learning rate" + (restarts.isEmpty ? "" : " (\(restarts.count) warm restart\(restarts.count == 1 ? "" : "s"))"),
                         xLabel: "step", yLabel: "learning rate",
                         series: [ChartSeries(label: "lr", colour: seriesColour(2), points: s.series("lr"))],
                         markers: restarts.map { ChartMarker(x: $0, label: "restart") }, yIncludes: [0],
                         yFormat: { String(format: "%.3g", $0) }).render()
        out += LineChart(id: "throughput", title: "Throughput", xLabel: "step", yLabel: "samples/s",
                         series: [ChartSeries(label: "samples/s", colour: seriesColour(4), points: s.series("samples_per_s").filter { $0.1 > 0 })],
                         yIncludes: [0], yFormat: { String(format: "%.0f", $0) }).render()
        out += "</div>"
        let heads = s.historyHeads.filter { h in
            ["accuracy", "balanced_accuracy", "map"].contains { s.history["\(prefix)_\($0)/\(h)"] != nil }
        }
        if !heads.isEmpty {
            out += "<h3>Per-head \(splitName) accuracy</h3><div class=\"charts\">"
            for h in heads {
                var series: [ChartSeries] = []
                for (j, (metric, name)) in [("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"), ("map", "mAP")].enumerated() {
                    let points = s.series("\(prefix)_\(metric)/\(h)", against: "epoch")
                    if !points.isEmpty { series.append(ChartSeries(label: name, colour: seriesColour(j), points: points, dots: true)) }
                }
                out += LineChart(id: "head-\(h)", title: "\(h): \(splitName) accuracy by epoch", xLabel: "epoch", yLabel: "share",
                                 series: series, yFormat: { HTML.percent($0) }).render()
            }
            out += "</div>"
        }
        if let e = run.evaluation { out += evaluationSection(e) }
        if let set = run.embedding {
            out += "<h3>Feature map</h3><div class=\"charts\">\(EmbeddingFigures.map(set, colourBy: mapHead))</div>"
        }
        if let config = s.latest?.config {
            out += "<details class=\"config\"><summary>Effective config (from \(HTML.escape(s.latestPath ?? "")))</summary><pre>\(HTML.escape(config))</pre></details>"
        }
        out += "</details></section>"
        return out
    }

    static func facts(_ s: RunSnapshot) -> String {
        var rows: [(String, String)] = []
        if let c = s.latest {
            rows.append(("run id", "<code>\(HTML.escape(c.runID))</code>"))
            rows.append(("latest checkpoint", "<code>\(HTML.escape(s.latestPath ?? ""))</code>: step \(c.step), epoch \(c.epoch), written \(HTML.escape(c.createdUTC))"))
            rows.append(("dataset fingerprint", "<code>\(HTML.escape(c.datasetFingerprint))</code>" + (s.config.map { " (\(HTML.escape($0.data.path)))" } ?? "")))
            let kernels = c.blasCore.isEmpty ? "not recorded" : "OpenBLAS \(HTML.escape(c.blasCore)), Loom \(HTML.escape(c.loomKernelPath))"
            rows.append(("kernels", kernels))
            rows.append(("calibration", c.calibration.isEmpty ? "none (T = 1)"
                         : c.calibration.sorted { $0.key < $1.key }.map { "\(HTML.escape($0.key)) T = \(HTML.number($0.value, digits: 3))" }.joined(separator: ", ")))
        } else {
            rows.append(("latest checkpoint", "none yet"))
        }
        if let w = s.workers {
            rows.append(("workers", "\(w.joined) joined, \(w.lost) lost"))
        } else {
            rows.append(("workers", "not recorded (trained in one process, or before Loom recorded workers)"))
        }
        rows.append(("progress", "step \(s.last("step").map { String(Int($0)) } ?? "n/a")"
                     + (s.config.map { c in " of \(c.training.maxSteps > 0 ? "\(c.training.maxSteps)" : "\(c.training.epochs) epochs")" } ?? "")
                     + ", epoch \(HTML.number(s.last("epoch"), digits: 2))"))
        rows.append(("wall time", HTML.duration(s.wallSeconds)))
        if let best = s.bestEpoch {
            rows.append(("best epoch", "\(HTML.number(best.epoch, digits: 2)): mean \(s.evaluationPrefix == "val" ? "validation" : "test") accuracy \(HTML.percent(best.score, digits: 2))"))
        }
        let files = s.checkpoints.map { f in
            "<li><code>\(HTML.escape(DurableName.basename(f.path)))</code> step \(f.step), \(HTML.bytes(f.bytes))\(f.modified.map { ", " + timestamp($0) } ?? "")</li>"
        }.joined()
        rows.append(("checkpoints", files.isEmpty ? "none" : "<ul class=\"files\">\(files)</ul>"))
        var out = "<table class=\"facts\">"
        for (k, v) in rows { out += "<tr><th>\(k)</th><td>\(v)</td></tr>" }
        return out + "</table>"
    }

    static func evaluationSection(_ e: RunEvaluation) -> String {
        let final = e.final
        var out = "<section class=\"evaluation\" data-checkpoint=\"\(HTML.escape(e.checkpoint))\" data-split=\"\(HTML.escape(final.split))\" data-count=\"\(final.count)\">"
        out += "<h3>Final evaluation: \(HTML.escape(final.split)) split, \(final.count) samples, step \(e.step)\(e.calibrated != nil ? " (calibrated)" : "")</h3>"
        out += "<p class=\"note\">The latest checkpoint run over the split now (as <code>loom eval</code>); loss \(HTML.number(final.loss)).</p>"
        let heads = final.headOrder.compactMap { name in final.heads[name].map { (name, $0) } }
        let topKs = Array(Set(heads.flatMap { $0.1.topK.map(\.k) })).sorted()
        let single = heads.filter { $0.1.kind != .multilabel }
        if !single.isEmpty {
            out += "<table class=\"metrics\"><thead><tr><th>head</th><th>accuracy</th><th>balanced accuracy</th>"
            for k in topKs { out += "<th>top-\(k) accuracy</th>" }
            out += "<th>NLL</th><th>ECE</th><th>labelled</th></tr></thead><tbody>"
            for (name, h) in single {
                out += "<tr data-head=\"\(HTML.escape(name))\"><th>\(HTML.escape(name))</th>"
                out += cell("accuracy", h.metric("accuracy"), percent: true) + cell("balanced_accuracy", h.metric("balanced_accuracy"), percent: true)
                for k in topKs { out += cell("top\(k)_accuracy", h.metrics["top\(k)_accuracy"] ?? .nan, percent: true) }
                out += cell("nll", h.metric("nll")) + cell("ece", h.metric("ece"), percent: true)
                out += "<td data-metric=\"count\">\(Int(h.metric("count")))</td></tr>"
            }
            out += "</tbody></table>"
        }
        let multi = heads.filter { $0.1.kind == .multilabel }
        if !multi.isEmpty {
            let ks = Array(Set(multi.flatMap { $0.1.topK.map(\.k) })).sorted()
            out += "<table class=\"metrics\"><thead><tr><th>head</th><th>mAP</th>"
            for k in ks { out += "<th>top-\(k) recall</th>" }
            out += "<th>BCE</th><th>labelled elements</th></tr></thead><tbody>"
            for (name, h) in multi {
                out += "<tr data-head=\"\(HTML.escape(name))\"><th>\(HTML.escape(name))</th>" + cell("map", h.metric("map"), percent: true)
                for k in ks { out += cell("top\(k)_recall", h.metrics["top\(k)_recall"] ?? .nan, percent: true) }
                out += cell("bce", h.metric("bce")) + "<td data-metric=\"count\">\(Int(h.metric("count")))</td></tr>"
            }
            out += "</tbody></table>"
        }
        for (name, h) in single {
            out += "<div class=\"head\" data-head=\"\(HTML.escape(name))\"><h4>\(HTML.escape(name))</h4><div class=\"charts\">"
            if let m = h.confusion { out += EvaluationFigures.confusion(m, classes: h.classes, head: name) }
            if !h.perClass.isEmpty { out += EvaluationFigures.perClassBars(h.perClass, head: name) }
            if let before = e.uncalibrated.heads[name]?.calibration {
                let calibrated = e.calibrated?.heads[name]?.calibration
                let t = calibrated?.temperature ?? 1
                out += EvaluationFigures.reliability(before, head: name, caption: calibrated != nil && t != 1 ? "\(name): before calibration (T = 1)" : "\(name): reliability (T = 1)")
                if let calibrated, t != 1 {
                    out += EvaluationFigures.reliability(calibrated, head: name, caption: "\(name): after calibration (T = \(HTML.number(t, digits: 3)))")
                }
            }
            out += "</div></div>"
        }
        return out + "</section>"
    }

    static func cell(_ metric: String, _ v: Double, percent: Bool = false) -> String {
        "<td data-metric=\"\(metric)\" data-value=\"\(v.isFinite ? "\(v)" : "nan")\">\(percent ? HTML.percent(v, digits: 2) : HTML.number(v))</td>"
    }

    // MARK: - Helpers

    /// Head names over all runs, in the order first seen (evaluations first, then histories).
    static func orderedHeads(_ runs: [ReportedRun]) -> [String] {
        var out: [String] = []
        for r in runs {
            for h in (r.evaluation?.final.headOrder ?? []) + r.snapshot.historyHeads where !out.contains(h) { out.append(h) }
        }
        return out
    }

    /// Labels made unique by a suffix (two runs named `run` become `run`, `run (2)`).
    static func uniqueLabels(_ labels: [String]) -> [String] {
        var seen: [String: Int] = [:]
        return labels.map { l in
            seen[l, default: 0] += 1
            return seen[l]! == 1 ? l : "\(l) (\(seen[l]!))"
        }
    }

    static func timestamp(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return f.string(from: date)
    }

    static let css = """
    body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#222;margin:0 auto;padding:16px 24px;max-width:1500px;background:#fff}
    h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:0;display:inline}h3{font-size:16px;margin:18px 0 6px}h4{margin:12px 0 4px;font-size:15px}
    .meta,.note{color:#555;font-size:12.5px}code{font:12px ui-monospace,"DejaVu Sans Mono",monospace}
    section.run{border-top:1px solid #ddd;margin-top:18px;padding-top:10px}summary{cursor:pointer}
    .charts{display:flex;flex-wrap:wrap;gap:12px 18px;align-items:flex-start}
    figure.chart{margin:0;padding:6px 8px;border:1px solid #e3e3e3;border-radius:4px;background:#fcfcfc}
    figcaption{font-weight:600;font-size:13px;margin-bottom:2px}
    svg{display:block;font-size:11px}svg text{fill:#333}svg .label{font-size:12px;fill:#444}
    .grid line,.gridline{stroke:#e6e6e6;stroke-width:1}.axis line{stroke:#888;stroke-width:1}
    .series path{fill:none;stroke-width:1.6}.marker line{stroke:#999;stroke-dasharray:4 3}.marker text{font-size:10px;fill:#777}
    ul.legend{list-style:none;margin:4px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:2px 14px;font-size:12px}
    .swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
    .swatch.marker{border-left:2px dashed #999;border-radius:0;width:0}
    table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:left}
    table.metrics td,table.comparison td{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:700}
    table.facts th{color:#555;font-weight:600;white-space:nowrap;vertical-align:top}ul.files{margin:0;padding-left:16px}
    .confusion .count{font-size:10px}.confusion .share{font-size:8px}.class-label{font-size:11px}
    .reliability .accuracy{fill:#1f77b4}.reliability .gap{fill:#d62728;fill-opacity:.25;stroke:#d62728;stroke-width:.6}
    .reliability .diagonal{stroke:#555;stroke-dasharray:4 3}.bars .value{font-size:11px}.bars .tick{font-size:10px;fill:#777}
    .map .pt image{display:none}.map .pt:hover image{display:inline}.map .pt:hover circle{stroke:#000;stroke-width:1.5}
    .map .frame{fill:none;stroke:#ddd}figure.map{max-width:540px}
    pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}.empty{color:#888;font-style:italic}
    """
}

/// The last path component, without Foundation's URL normalisation of relative paths.
enum DurableName {
    static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
