// Pictures of embeddings: the 2-D PCA map of a sample of a split (coloured by a head's
// class, each sample's thumbnail shown on hover with CSS alone), and the "similar samples"
// strip of `loom similar`.

import Foundation
import LoomData

/// The first two principal components of `n` rows of `width` values.
///
/// Power iteration on the centred rows' covariance, applied as Xᵀ(X v) so the (width ×
/// width) matrix is never formed; the second component is deflated against the first.
/// Starts from a fixed vector, so the map is the same on every run; each component's sign
/// is fixed by making its largest coordinate positive. Returns the projections (n rows).
func principalComponents(_ values: [Float], width: Int) -> [(Double, Double)] {
    let n = values.count / max(width, 1)
    guard n > 0, width > 0 else { return [] }
    var mean = [Double](repeating: 0, count: width)
    for r in 0..<n { for j in 0..<width { mean[j] += Double(values[r * width + j]) } }
    for j in 0..<width { mean[j] /= Double(n) }
    func apply(_ v: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: width)
        for r in 0..<n {
            var dot = 0.0
            for j in 0..<width { dot += (Double(values[r * width + j]) - mean[j]) * v[j] }
            for j in 0..<width { out[j] += (Double(values[r * width + j]) - mean[j]) * dot }
        }
        return out
    }
    func normalised(_ v: [Double]) -> [Double] {
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }
    var components: [[Double]] = []
    for c in 0..<2 {
        var v = normalised((0..<width).map { j in 1 + 0.5 * sin(Double(j + 1) * Double(c + 1)) })
        for _ in 0..<100 {
            var next = apply(v)
            for u in components {
                let d = zip(next, u).reduce(0) { $0 + $1.0 * $1.1 }
                next = zip(next, u).map { $0 - d * $1 }
            }
            next = normalised(next)
            let change = zip(next, v).reduce(0) { $0 + abs($1.0 - $1.1) }
            v = next
            if change < 1e-9 { break }
        }
        if let big = v.indices.max(by: { abs(v[$0]) < abs(v[$1]) }), v[big] < 0 { v = v.map { -$0 } }
        components.append(v)
    }
    return (0..<n).map { r in
        var p = (0.0, 0.0)
        for j in 0..<width {
            let x = Double(values[r * width + j]) - mean[j]
            p.0 += x * components[0][j]
            p.1 += x * components[1][j]
        }
        return p
    }
}

enum EmbeddingFigures {
    /// Sample `row`'s image as a PNG data URI (grey images become RGB), shrunk by an integer
    /// factor (box average) until no side exceeds `maxSide`: a page of 500 photo thumbnails
    /// stays a few MB, not hundreds.
    static func thumbnail(_ set: EmbeddingSet, row: Int, maxSide: Int = 64) -> String? {
        let shape = set.imageShape
        guard set.images.count >= (row + 1) * shape.elementCount, shape.channels == 1 || shape.channels == 3,
              shape.width > 0, shape.height > 0 else { return nil }
        let image = set.images[(row * shape.elementCount)..<((row + 1) * shape.elementCount)]
        let rgb = shape.channels == 3 ? Array(image) : image.flatMap { [$0, $0, $0] }
        let (small, w, h) = shrink(rgb, width: shape.width, height: shape.height, maxSide: maxSide)
        guard let png = try? PNGWriter.encode(rgb: small, width: w, height: h) else { return nil }
        return "data:image/png;base64," + Data(png).base64EncodedString()
    }

    /// RGB `(height, width, 3)` averaged over f x f blocks, f = ⌈max(width, height) / maxSide⌉.
    static func shrink(_ rgb: [UInt8], width: Int, height: Int, maxSide: Int) -> ([UInt8], Int, Int) {
        let f = max(1, (max(width, height) + maxSide - 1) / max(maxSide, 1))
        guard f > 1 else { return (rgb, width, height) }
        let w = width / f, h = height / f
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    var sum = 0
                    for dy in 0..<f { for dx in 0..<f { sum += Int(rgb[((y * f + dy) * width + x * f + dx) * 3 + c]) } }
                    out[(y * w + x) * 3 + c] = UInt8(sum / (f * f))
                }
            }
        }
        return (out, w, h)
    }

    /// The head whose classes colour the map: `name` if given and known, else the first
    /// softmax head.
    static func colourHead(_ set: EmbeddingSet, name: String?) -> HeadProbabilities? {
        if let name, let h = set.heads.first(where: { $0.name == name }) { return h }
        return set.heads.first { $0.kind == .softmax } ?? set.heads.first
    }

    /// Class of each row for colouring: the true label where known, else the most probable class.
    static func classes(of head: HeadProbabilities, rows n: Int) -> [Int] {
        let k = head.probabilities.count / max(n, 1)
        return (0..<n).map { r in
            if r < head.labels.count, head.labels[r] >= 0 { return Int(head.labels[r]) }
            guard k > 1 else { return head.probabilities[r] >= 0.5 ? 1 : 0 }
            var best = 0
            for j in 1..<k where head.probabilities[r * k + j] > head.probabilities[r * k + best] { best = j }
            return best
        }
    }

    /// The PCA map of the features, coloured by `head`'s classes.
    static func map(_ set: EmbeddingSet, colourBy name: String?) -> String {
        let points = principalComponents(set.features, width: set.featureCount)
        guard !points.isEmpty, let head = colourHead(set, name: name) else { return "" }
        let classes = classes(of: head, rows: set.count)
        let names = head.classNames.isEmpty ? (0..<((classes.max() ?? 0) + 1)).map { "\($0)" } : head.classNames
        let size = 520.0, pad = 14.0
        let x = LinearScale(domain: LinearScale.extent(points.map(\.0), padding: 0.03), range: (pad, size - pad))
        let y = LinearScale(domain: LinearScale.extent(points.map(\.1), padding: 0.03), range: (size - pad, pad))
        let c = HTML.coordinate
        let labelled = head.labels.contains { $0 >= 0 }
        var out = "<figure class=\"chart map\" data-chart=\"pca-map\" data-head=\"\(HTML.escape(head.name))\" data-points=\"\(points.count)\">"
        out += "<figcaption>Feature map: PCA of the trunk features of \(set.count) \(HTML.escape(set.split)) samples, coloured by \(HTML.escape(head.name)) (\(labelled ? "true class" : "predicted class")); hover a point for its image</figcaption>"
        out += "<svg viewBox=\"0 0 \(c(size)) \(c(size))\" width=\"\(c(size))\" height=\"\(c(size))\" role=\"img\" aria-label=\"feature map\">"
        out += "<rect class=\"frame\" x=\"0.5\" y=\"0.5\" width=\"\(c(size - 1))\" height=\"\(c(size - 1))\"/>"
        for (r, p) in points.enumerated() {
            let cls = classes[r]
            let name = cls < names.count ? names[cls] : "\(cls)"
            let px = x(p.0), py = y(p.1)
            out += "<g class=\"pt\"><circle cx=\"\(c(px))\" cy=\"\(c(py))\" r=\"3.2\" fill=\"\(seriesColour(cls))\"><title>sample \(set.indices[r]): \(HTML.escape(name))</title></circle>"
            if let uri = thumbnail(set, row: r) {
                // Drawn near the point, inside the frame; shown while the point is hovered.
                let tx = min(max(px + 6, 2), size - 62), ty = min(max(py - 62, 2), size - 62)
                out += "<image href=\"\(uri)\" x=\"\(c(tx))\" y=\"\(c(ty))\" width=\"56\" height=\"56\"/>"
            }
            out += "</g>"
        }
        out += "</svg><ul class=\"legend\">"
        for (i, n) in names.enumerated() where classes.contains(i) {
            out += "<li><span class=\"swatch\" style=\"background:\(seriesColour(i))\"></span>\(HTML.escape(n))</li>"
        }
        out += "</ul></figure>"
        return out
    }

    /// A self-contained page: the query sample and its nearest neighbours, each with its
    /// image, similarity, true and predicted classes per head.
    static func strip(_ set: EmbeddingSet, query: Int, neighbours: [(row: Int, similarity: Double)],
                      space: EmbeddingSpace) -> String {
        func card(_ row: Int, _ caption: String) -> String {
            var out = "<figure class=\"sample\" data-index=\"\(set.indices[row])\">"
            if let uri = thumbnail(set, row: row, maxSide: 224) { out += "<img src=\"\(uri)\" width=\"112\" height=\"112\" alt=\"\(set.sampleName(row))\">" }
            out += "<figcaption><b>\(HTML.escape(caption))</b><br>\(set.sampleName(row))"
            for h in set.heads where h.kind != .multilabel {
                let k = h.probabilities.count / max(set.count, 1)
                let names = h.classNames.count == max(k, 2) ? h.classNames : (0..<max(k, 2)).map { "\($0)" }
                var best = 0, p = Double(h.probabilities[row * k])
                if k > 1 {
                    for j in 1..<k where h.probabilities[row * k + j] > h.probabilities[row * k + best] { best = j }
                    p = Double(h.probabilities[row * k + best])
                } else {
                    best = p >= 0.5 ? 1 : 0
                    p = max(p, 1 - p)
                }
                let truth = row < h.labels.count && h.labels[row] >= 0 ? names[Int(h.labels[row])] : nil
                out += "<br>\(HTML.escape(h.name)): \(HTML.escape(names[best])) \(HTML.percent(p, digits: 0))"
                if let truth { out += truth == names[best] ? " ✓" : " (true \(HTML.escape(truth)))" }
            }
            return out + "</figcaption></figure>"
        }
        var out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Similar to \(set.sampleName(query))</title><style>"
        out += "body{font:14px/1.4 system-ui,\"DejaVu Sans\",sans-serif;margin:16px 24px;color:#222}"
        out += ".strip{display:flex;gap:14px;flex-wrap:wrap;align-items:flex-start}figure.sample{margin:0;padding:8px;border:1px solid #ddd;border-radius:4px;font-size:12px;width:150px}"
        out += "figure.sample img{image-rendering:pixelated;display:block;margin-bottom:4px;border:1px solid #eee}figure.query{border-color:#1f77b4;border-width:2px}"
        out += "</style></head><body><h1>Samples like \(HTML.escape(set.split)) sample \(set.indices[query])</h1>"
        out += "<p>Cosine similarity of the \(space == .features ? "trunk features" : "calibrated head probabilities") (<code>loom similar</code>, checkpoint <code>\(HTML.escape(set.checkpoint))</code>, step \(set.step)).</p><div class=\"strip\">"
        out += card(query, "query").replacingOccurrences(of: "class=\"sample\"", with: "class=\"sample query\"")
        for (i, n) in neighbours.enumerated() {
            out += card(n.row, "#\(i + 1), similarity \(String(format: "%.3f", n.similarity))")
        }
        return out + "</div></body></html>\n"
    }
}

/// `loom similar`'s HTML strip.
public enum SimilarStrip {
    public static func write(_ set: EmbeddingSet, query: Int, neighbours: [(row: Int, similarity: Double)],
                             space: EmbeddingSpace, to path: String) throws(ReportError) {
        try ReportBuilder.write(EmbeddingFigures.strip(set, query: query, neighbours: neighbours, space: space), to: path)
    }
}
