// A line chart as inline SVG: axes with ticks and labels, one path per series (broken at
// gaps), dots for sparse series (evaluations), dashed vertical markers (warm restarts), and
// an HTML legend under it. Every point carries a <title>, the browser's own tooltip.

import Foundation

/// One line of a chart.
struct ChartSeries {
    var label: String
    var colour: String
    var points: [(Double, Double)]
    /// Draw a dot at every point (few points: evaluations).
    var dots = false
    var dashed = false
}

/// A vertical marker at an x value (a warm restart).
struct ChartMarker {
    var x: Double
    var label: String
}

struct LineChart {
    /// Identifies the chart in the DOM (`data-chart`).
    var id: String
    var title: String
    var xLabel: String
    var yLabel: String
    var series: [ChartSeries]
    var markers: [ChartMarker] = []
    /// Values the y axis must include (e.g. 0 and 1 for accuracies).
    var yIncludes: [Double] = []
    var yFormat: (Double) -> String = { HTML.number($0) }
    var width = 560.0
    var height = 260.0

    private let left = 62.0, right = 14.0, top = 12.0, bottom = 42.0

    func render() -> String {
        let xs = series.flatMap { $0.points.map(\.0) } + markers.map(\.x)
        let ys = series.flatMap { $0.points.map(\.1) }
        var out = "<figure class=\"chart\" data-chart=\"\(HTML.escape(id))\">"
        out += "<figcaption>\(HTML.escape(title))</figcaption>"
        guard !ys.isEmpty else {
            return out + "<p class=\"empty\">nothing logged yet</p></figure>"
        }
        let xDomain = LinearScale.extent(xs)
        let yDomain = LinearScale.extent(ys, padding: 0.05, including: yIncludes)
        let x = LinearScale(domain: xDomain, range: (left, width - right))
        let y = LinearScale(domain: yDomain, range: (height - bottom, top))
        let c = HTML.coordinate
        out += "<svg viewBox=\"0 0 \(c(width)) \(c(height))\" width=\"\(c(width))\" height=\"\(c(height))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
        // Grid and axes.
        let (xTicks, xStep) = niceTicks(xDomain.0, xDomain.1, count: 6)
        let (yTicks, yStep) = niceTicks(yDomain.0, yDomain.1, count: 5)
        out += "<g class=\"grid\">"
        for t in yTicks { out += "<line x1=\"\(c(left))\" x2=\"\(c(width - right))\" y1=\"\(c(y(t)))\" y2=\"\(c(y(t)))\"/>" }
        out += "</g>"
        out += "<g class=\"axis x\"><line x1=\"\(c(left))\" x2=\"\(c(width - right))\" y1=\"\(c(height - bottom))\" y2=\"\(c(height - bottom))\"/>"
        for t in xTicks {
            out += "<line x1=\"\(c(x(t)))\" x2=\"\(c(x(t)))\" y1=\"\(c(height - bottom))\" y2=\"\(c(height - bottom + 4))\"/>"
            out += "<text x=\"\(c(x(t)))\" y=\"\(c(height - bottom + 16))\" text-anchor=\"middle\">\(HTML.tick(t, step: xStep))</text>"
        }
        out += "<text class=\"label\" x=\"\(c((left + width - right) / 2))\" y=\"\(c(height - 6))\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text></g>"
        out += "<g class=\"axis y\"><line x1=\"\(c(left))\" x2=\"\(c(left))\" y1=\"\(c(top))\" y2=\"\(c(height - bottom))\"/>"
        for t in yTicks {
            out += "<text x=\"\(c(left - 6))\" y=\"\(c(y(t) + 4))\" text-anchor=\"end\">\(HTML.tick(t, step: yStep))</text>"
        }
        let mid = (top + height - bottom) / 2
        out += "<text class=\"label\" transform=\"translate(14 \(c(mid))) rotate(-90)\" text-anchor=\"middle\">\(HTML.escape(yLabel))</text></g>"
        for m in markers {
            out += "<g class=\"marker\"><line x1=\"\(c(x(m.x)))\" x2=\"\(c(x(m.x)))\" y1=\"\(c(top))\" y2=\"\(c(height - bottom))\"><title>\(HTML.escape(m.label))</title></line>"
            // Labels only while they fit; many restarts are told by the legend and tooltips.
            if markers.count <= 8 { out += "<text x=\"\(c(x(m.x) + 3))\" y=\"\(c(top + 10))\">\(HTML.escape(m.label))</text>" }
            out += "</g>"
        }
        for s in series {
            out += "<g class=\"series\" data-series=\"\(HTML.escape(s.label))\" data-points=\"\(s.points.count)\">"
            if s.points.count > 1 {
                var d = ""
                for (i, p) in s.points.enumerated() { d += (i == 0 ? "M" : "L") + "\(c(x(p.0))) \(c(y(p.1)))" }
                out += "<path d=\"\(d)\" stroke=\"\(s.colour)\"\(s.dashed ? " stroke-dasharray=\"5 3\"" : "")/>"
            }
            if s.dots || s.points.count == 1 {
                for p in s.points {
                    out += "<circle cx=\"\(c(x(p.0)))\" cy=\"\(c(y(p.1)))\" r=\"3\" fill=\"\(s.colour)\"><title>\(HTML.escape(s.label)): \(HTML.escape(xLabel)) \(HTML.tick(p.0, step: xStep / 100)), \(yFormat(p.1))</title></circle>"
                }
            }
            out += "</g>"
        }
        out += "</svg>"
        out += "<ul class=\"legend\">"
        for s in series {
            let last = s.points.last.map { " (last " + yFormat($0.1) + ")" } ?? ""
            out += "<li><span class=\"swatch\" style=\"background:\(s.colour)\"></span>\(HTML.escape(s.label))\(HTML.escape(last))</li>"
        }
        if !markers.isEmpty {
            out += "<li><span class=\"swatch marker\"></span>warm restart (\(markers.count))</li>"
        }
        out += "</ul></figure>"
        return out
    }
}
