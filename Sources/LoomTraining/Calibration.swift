// Temperature scaling (Guo et al. 2017): one scalar T per head, fitted on held-out data,
// that divides the logits before the softmax (or sigmoid) to fix over-confidence.
//
// T minimises the mean NLL of softmax(z / T) (or mean BCE of sigmoid(z / T)). We optimise
// s = log T so that T stays positive. With a = 1/T = e^-s and, per row, p = softmax(a z):
//   f(a)   = mean[ logsumexp(a z) - a z_y ]
//   f'(a)  = mean[ E_p[z] - z_y ],     f''(a) = mean[ Var_p(z) ] >= 0   (convex in a)
//   df/ds  = -a f'(a),                 d2f/ds2 = a^2 f''(a) + a f'(a)
// and for a sigmoid element with target y: f = softplus(a z) - y a z, f' = (sigmoid(a z) - y) z,
// f'' = sigmoid (1 - sigmoid) z^2. Newton steps on s (a gradient step where the curvature is
// not positive), each halved until f decreases; all in Double, so the fit is deterministic.

import Foundation

/// The result of fitting one temperature.
public struct TemperatureFit: Equatable, Sendable {
    /// The fitted T (> 0): calibrated logits are z / T.
    public var temperature: Double
    /// Mean NLL (softmax) or mean BCE (sigmoid) at T = 1 and at the fitted T.
    public var nllBefore: Double
    public var nllAfter: Double
    /// 15-bin ECE at T = 1 and at the fitted T.
    public var eceBefore: Double
    public var eceAfter: Double
    /// Newton iterations used.
    public var iterations: Int
}

/// Inputs that cannot be calibrated.
public struct CalibrationError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "temperature scaling: \(message)" }
}

public enum TemperatureScaling {
    /// Fits T for a softmax head. logits (N, K) row-major, labels (N), -1 = not labelled.
    public static func fit(logits: [Float], labels: [Int32],
                           maxIterations: Int = 200) throws(CalibrationError) -> TemperatureFit {
        guard !labels.isEmpty, logits.count % labels.count == 0, logits.count / labels.count >= 2 else {
            throw CalibrationError("\(logits.count) logits do not form (N, K >= 2) rows for \(labels.count) labels")
        }
        let k = logits.count / labels.count
        let rows = labels.indices.filter { labels[$0] >= 0 && Int(labels[$0]) < k }
        guard !rows.isEmpty else { throw CalibrationError("no labelled row (all labels are -1 or out of 0..<\(k))") }
        if let bad = logits.firstIndex(where: { !$0.isFinite }) {
            throw CalibrationError("logit \(bad) (row \(bad / k)) is \(logits[bad])")
        }
        let objective = { (a: Double) -> (Double, Double, Double) in
            var f = 0.0, g = 0.0, h = 0.0
            var p = [Double](repeating: 0, count: k)
            for i in rows {
                let z = logits[(i * k)..<((i + 1) * k)].map(Double.init)
                let m = z.max()! * a
                var s = 0.0
                for j in 0..<k { p[j] = exp(a * z[j] - m); s += p[j] }
                var mean = 0.0, second = 0.0
                for j in 0..<k { p[j] /= s; mean += p[j] * z[j]; second += p[j] * z[j] * z[j] }
                let y = Int(labels[i])
                f += m + log(s) - a * z[y]
                g += mean - z[y]
                h += max(second - mean * mean, 0)
            }
            let n = Double(rows.count)
            return (f / n, g / n, h / n)
        }
        let ece = { (t: Double) -> Double in
            var bins = CalibrationBins()
            for i in rows {
                let z = logits[(i * k)..<((i + 1) * k)].map { Double($0) / t }
                let m = z.max()!
                let best = z.firstIndex(of: m)!
                let s = z.reduce(0) { $0 + exp($1 - m) }
                bins.add(confidence: 1 / s, correct: best == Int(labels[i]))
            }
            return bins.ece
        }
        return minimise(objective, ece, maxIterations)
    }

    /// Fits T for a binary or multilabel head on BCE. logits and targets (N, K) (K = 1 for a
    /// binary head), targets 0/1, NaN = not labelled.
    public static func fitSigmoid(logits: [Float], targets: [Float],
                                  maxIterations: Int = 200) throws(CalibrationError) -> TemperatureFit {
        guard logits.count == targets.count else {
            throw CalibrationError("\(logits.count) logits for \(targets.count) targets")
        }
        let elements = targets.indices.filter { !targets[$0].isNaN }
        guard !elements.isEmpty else { throw CalibrationError("no labelled element (all targets are NaN)") }
        if let bad = logits.firstIndex(where: { !$0.isFinite }) {
            throw CalibrationError("logit \(bad) is \(logits[bad])")
        }
        let objective = { (a: Double) -> (Double, Double, Double) in
            var f = 0.0, g = 0.0, h = 0.0
            for e in elements {
                let z = Double(logits[e]), y = Double(targets[e]), x = a * z
                let p = StableMath.sigmoid(x)
                f += log1p(exp(-abs(x))) + max(x, 0) - y * x
                g += (p - y) * z
                h += p * (1 - p) * z * z
            }
            let n = Double(elements.count)
            return (f / n, g / n, h / n)
        }
        let ece = { (t: Double) -> Double in
            var bins = CalibrationBins()
            for e in elements {
                let x = Double(logits[e]) / t
                let p = StableMath.sigmoid(x)
                bins.add(confidence: max(p, 1 - p), correct: (x >= 0) == (targets[e] > 0.5))
            }
            return bins.ece
        }
        return minimise(objective, ece, maxIterations)
    }

    /// Fits one temperature per head of a run: softmax heads on the NLL of their class
    /// labels, binary heads on the BCE of their 0/1 labels, multilabel heads on the BCE of
    /// their labelled target elements. `logits[h]` is head h's (N, K_h) for the N samples of
    /// `truth`. A head with no labelled element cannot be fitted: its entry is nil (the
    /// caller skips it; the head keeps T = 1).
    /// - Throws: when no head has a labelled element, or a head's fit fails (naming the head).
    public static func fitHeads(_ heads: [ResolvedHead], logits: [[Float]], truth: GroundTruth,
                                maxIterations: Int = 200) throws(CalibrationError) -> [TemperatureFit?] {
        guard logits.count == heads.count, truth.labels.count == heads.count, truth.targets.count == heads.count else {
            throw CalibrationError("\(logits.count) heads of logits and \(truth.labels.count) of labels for \(heads.count) heads")
        }
        var fits: [TemperatureFit?] = []
        for (h, head) in heads.enumerated() {
            do throws(CalibrationError) {
                if head.kind == .softmax {
                    let labels = truth.labels[h]
                    guard labels.contains(where: { $0 >= 0 && Int($0) < head.classes }) else { fits.append(nil); continue }
                    fits.append(try fit(logits: logits[h], labels: labels, maxIterations: maxIterations))
                } else {
                    let targets = head.usesTargets ? truth.targets[h] : truth.labels[h].map { $0 < 0 ? .nan : Float($0) }
                    guard targets.contains(where: { !$0.isNaN }) else { fits.append(nil); continue }
                    fits.append(try fitSigmoid(logits: logits[h], targets: targets, maxIterations: maxIterations))
                }
            } catch {
                throw CalibrationError("head '\(head.name)': \(error.message)")
            }
        }
        guard fits.contains(where: { $0 != nil }) else {
            throw CalibrationError("no head has a labelled element (heads \(heads.map(\.name).joined(separator: ", ")))")
        }
        return fits
    }

    /// Damped Newton on s = log T. `objective(a)` gives (f, df/da, d2f/da2) at a = 1/T.
    private static func minimise(_ objective: (Double) -> (Double, Double, Double),
                                 _ ece: (Double) -> Double, _ maxIterations: Int) -> TemperatureFit {
        var s = 0.0
        var (f, fa, faa) = objective(1)
        let nllBefore = f
        var iterations = 0
        while iterations < max(maxIterations, 0) {
            let a = exp(-s)
            let gs = -a * fa
            let hs = a * a * faa + a * fa
            if abs(gs) < 1e-10 { break }
            var step = hs > 0 ? -gs / hs : -gs
            step = min(max(step, -2), 2)  // T changes by at most e^2 per iteration
            var accepted = false
            for _ in 0..<40 {
                let trial = objective(exp(-(s + step)))
                if trial.0 <= f + 1e-4 * step * gs {
                    s += step
                    (f, fa, faa) = trial
                    accepted = true
                    break
                }
                step /= 2
            }
            iterations += 1
            if !accepted { break }
        }
        let t = exp(s)
        return TemperatureFit(temperature: t, nllBefore: nllBefore, nllAfter: f,
                              eceBefore: ece(1), eceAfter: ece(t), iterations: iterations)
    }
}
