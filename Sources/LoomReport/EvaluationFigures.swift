// The figures of one head's final evaluation, as inline SVG: the confusion matrix (counts,
// shaded and labelled by the row-normalised share), per-class recall and precision bars,
// and the reliability diagram (accuracy against confidence in 15 bins, with ECE).

import Foundation
import LoomTraining

enum EvaluationFigures {
    /// The confusion matrix: rows are true classes, columns predicted ones; each cell shows
    /// its count and its share of the row, shaded by that share.
    static func confusion(_ m: ConfusionMatrix, classes: [String], head: String) -> String {
        let k = m.classes
        let cell = max(24, min(40, 460 / Double(max(k, 1))))
        let labelWidth = 8 + 7 * Double(classes.map(\.count).max() ?? 4)
        let left = min(max(labelWidth, 60), 150), top = 8.0
        let bottom = min(max(labelWidth * 0.75, 50), 120) + 18
        let width = left + cell * Double(k) + 8, height = top + cell * Double(k) + bottom
        let normalised = m.rowNormalised
        let c = HTML.coordinate
        var out = "<figure class=\"chart confusion\" data-chart=\"confusion\" data-head=\"\(HTML.escape(head))\">"
        out += "<figcaption>\(HTML.escape(head)): confusion matrix (rows: true class, columns: predicted; count and share of the row)</figcaption>"
        out += "<svg viewBox=\"0 0 \(c(width)) \(c(height))\" width=\"\(c(width))\" height=\"\(c(height))\" role=\"img\" aria-label=\"confusion matrix of \(HTML.escape(head))\">"
        for t in 0..<k {
            let yc = top + cell * (Double(t) + 0.5)
            out += "<text class=\"class-label\" x=\"\(c(left - 6))\" y=\"\(c(yc + 4))\" text-anchor=\"end\">\(HTML.escape(classes[t]))</text>"
            for p in 0..<k {
                let share = normalised[t][p]
                let count = m.count(true: t, predicted: p)
                let x0 = left + cell * Double(p), y0 = top + cell * Double(t)
                let fill = t == p ? shade(share, hue: 140) : shade(share, hue: 4)
                out += "<g class=\"cell\" data-true=\"\(HTML.escape(classes[t]))\" data-predicted=\"\(HTML.escape(classes[p]))\" data-count=\"\(count)\">"
                out += "<rect x=\"\(c(x0))\" y=\"\(c(y0))\" width=\"\(c(cell - 1))\" height=\"\(c(cell - 1))\" fill=\"\(fill)\"><title>true \(HTML.escape(classes[t])), predicted \(HTML.escape(classes[p])): \(count) (\(HTML.percent(share)) of the row)</title></rect>"
                if count > 0 {
                    let ink = share > 0.55 ? "#fff" : "#222"
                    out += "<text x=\"\(c(x0 + cell / 2))\" y=\"\(c(y0 + cell / 2 - 1))\" text-anchor=\"middle\" fill=\"\(ink)\" class=\"count\">\(count)</text>"
                    out += "<text x=\"\(c(x0 + cell / 2))\" y=\"\(c(y0 + cell / 2 + 9))\" text-anchor=\"middle\" fill=\"\(ink)\" class=\"share\">\(Int((share * 100).rounded()))%</text>"
                }
                out += "</g>"
            }
        }
        for p in 0..<k {
            let xc = left + cell * (Double(p) + 0.5), y0 = top + cell * Double(k) + 6
            out += "<text class=\"class-label\" transform=\"translate(\(c(xc + 3)) \(c(y0))) rotate(-50)\" text-anchor=\"end\">\(HTML.escape(classes[p]))</text>"
        }
        out += "<text class=\"label\" x=\"\(c(left + cell * Double(k) / 2))\" y=\"\(c(height - 4))\" text-anchor=\"middle\">predicted class</text>"
        out += "</svg></figure>"
        return out
    }

    /// White to saturated `hue` as `share` goes from 0 to 1.
    static func shade(_ share: Double, hue: Int) -> String {
        let s = max(0, min(1, share.isFinite ? share : 0))
        return "hsl(\(hue) 70% \(Int((97 - 55 * s).rounded()))%)"
    }

    /// Per-class recall and precision as paired horizontal bars, with the class's support.
    static func perClassBars(_ figures: [HeadSummary.ClassFigures], head: String) -> String {
        let rowHeight = 26.0, left = min(max(8 + 7 * Double(figures.map(\.name.count).max() ?? 4), 60), 150)
        let barWidth = 300.0, top = 22.0
        let width = left + barWidth + 150, height = top + rowHeight * Double(figures.count) + 8
        let c = HTML.coordinate
        var out = "<figure class=\"chart bars\" data-chart=\"per-class\" data-head=\"\(HTML.escape(head))\">"
        out += "<figcaption>\(HTML.escape(head)): recall and precision per class</figcaption>"
        out += "<svg viewBox=\"0 0 \(c(width)) \(c(height))\" width=\"\(c(width))\" height=\"\(c(height))\" role=\"img\" aria-label=\"per-class recall and precision of \(HTML.escape(head))\">"
        for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let x = left + barWidth * t
            out += "<line class=\"gridline\" x1=\"\(c(x))\" x2=\"\(c(x))\" y1=\"\(c(top - 4))\" y2=\"\(c(height - 8))\"/>"
            out += "<text class=\"tick\" x=\"\(c(x))\" y=\"\(c(top - 8))\" text-anchor=\"middle\">\(Int(t * 100))%</text>"
        }
        for (i, f) in figures.enumerated() {
            let y0 = top + rowHeight * Double(i)
            out += "<g class=\"class-bars\" data-class=\"\(HTML.escape(f.name))\" data-recall=\"\(HTML.number(f.recall))\" data-precision=\"\(HTML.number(f.precision))\">"
            out += "<text class=\"class-label\" x=\"\(c(left - 6))\" y=\"\(c(y0 + 15))\" text-anchor=\"end\">\(HTML.escape(f.name))</text>"
            for (j, (value, colour, name)) in [(f.recall, seriesColour(0), "recall"), (f.precision, seriesColour(3), "precision")].enumerated() {
                let yb = y0 + 3 + Double(j) * 10
                let w = barWidth * (value ?? 0)
                out += "<rect x=\"\(c(left))\" y=\"\(c(yb))\" width=\"\(c(w))\" height=\"9\" fill=\"\(colour)\"><title>\(name) \(HTML.percent(value)) (\(HTML.escape(f.name)))</title></rect>"
            }
            out += "<text class=\"value\" x=\"\(c(left + barWidth + 6))\" y=\"\(c(y0 + 15))\">\(HTML.percent(f.recall)) / \(HTML.percent(f.precision)), n=\(f.support)</text>"
            out += "</g>"
        }
        out += "</svg><ul class=\"legend\"><li><span class=\"swatch\" style=\"background:\(seriesColour(0))\"></span>recall</li>"
        out += "<li><span class=\"swatch\" style=\"background:\(seriesColour(3))\"></span>precision</li><li>n = labelled samples of the class</li></ul></figure>"
        return out
    }

    /// Accuracy against mean confidence per bin; the gap to the diagonal is what ECE sums.
    static func reliability(_ cal: HeadSummary.Calibration, head: String, caption: String) -> String {
        let size = 230.0, left = 44.0, top = 10.0, bottom = 40.0
        let width = left + size + 12, height = top + size + bottom
        let x = LinearScale(domain: (0, 1), range: (left, left + size))
        let y = LinearScale(domain: (0, 1), range: (top + size, top))
        let c = HTML.coordinate
        let total = max(cal.bins.reduce(0) { $0 + $1.count }, 1)
        var out = "<figure class=\"chart reliability\" data-chart=\"reliability\" data-head=\"\(HTML.escape(head))\" data-temperature=\"\(HTML.number(cal.temperature))\" data-ece=\"\(HTML.number(cal.ece))\">"
        out += "<figcaption>\(HTML.escape(caption)): ECE \(HTML.percent(cal.ece, digits: 2))</figcaption>"
        out += "<svg viewBox=\"0 0 \(c(width)) \(c(height))\" width=\"\(c(width))\" height=\"\(c(height))\" role=\"img\" aria-label=\"reliability diagram of \(HTML.escape(head))\">"
        out += "<g class=\"grid\">"
        for t in [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] {
            out += "<line x1=\"\(c(left))\" x2=\"\(c(left + size))\" y1=\"\(c(y(t)))\" y2=\"\(c(y(t)))\"/>"
        }
        out += "</g><g class=\"axis x\">"
        for t in [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] {
            out += "<text x=\"\(c(x(t)))\" y=\"\(c(top + size + 14))\" text-anchor=\"middle\">\(String(format: "%.1f", t))</text>"
        }
        out += "<text class=\"label\" x=\"\(c(left + size / 2))\" y=\"\(c(height - 6))\" text-anchor=\"middle\">confidence</text></g><g class=\"axis y\">"
        for t in [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] {
            out += "<text x=\"\(c(left - 5))\" y=\"\(c(y(t) + 4))\" text-anchor=\"end\">\(String(format: "%.1f", t))</text>"
        }
        out += "<text class=\"label\" transform=\"translate(12 \(c(top + size / 2))) rotate(-90)\" text-anchor=\"middle\">accuracy</text></g>"
        for (i, bin) in cal.bins.enumerated() {
            guard let accuracy = bin.accuracy, let confidence = bin.confidence else { continue }
            let x0 = x(bin.lower) + 0.5, w = x(bin.upper) - x(bin.lower) - 1
            // The gap between accuracy and confidence, then the accuracy bar over it.
            let gapTop = y(max(accuracy, confidence)), gapBottom = y(min(accuracy, confidence))
            out += "<g class=\"bin\" data-bin=\"\(i)\" data-count=\"\(bin.count)\" data-accuracy=\"\(HTML.number(accuracy))\" data-confidence=\"\(HTML.number(confidence))\">"
            out += "<rect class=\"gap\" x=\"\(c(x0))\" y=\"\(c(gapTop))\" width=\"\(c(w))\" height=\"\(c(gapBottom - gapTop))\"/>"
            out += "<rect class=\"accuracy\" x=\"\(c(x0))\" y=\"\(c(y(accuracy)))\" width=\"\(c(w))\" height=\"\(c(y(0) - y(accuracy)))\" fill-opacity=\"\(HTML.coordinate(0.35 + 0.65 * min(1, Double(bin.count) / Double(total) * 5)))\">"
            out += "<title>confidence \(HTML.number(bin.lower, digits: 3))-\(HTML.number(bin.upper, digits: 3)): \(bin.count) samples, accuracy \(HTML.percent(accuracy)), mean confidence \(HTML.percent(confidence))</title></rect></g>"
        }
        out += "<line class=\"diagonal\" x1=\"\(c(x(0)))\" y1=\"\(c(y(0)))\" x2=\"\(c(x(1)))\" y2=\"\(c(y(1)))\"/>"
        out += "</svg></figure>"
        return out
    }
}
