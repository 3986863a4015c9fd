// Softmax losses: cross-entropy (label smoothing, class weights, soft targets) and focal loss.
//
// Both are computed per row in Double from a stable log-softmax:
//   logp_k = z_k - m - log Σ_j exp(z_j - m),  m = max_j z_j.
//
// Cross-entropy in one form covers every PyTorch variant: with target distribution
//   t' = (1 - eps) t + eps / K   (t = one-hot(y) for class labels, or a given soft row)
// and coefficients c_k = w_k t'_k (w = class weights, 1 when absent),
//   loss = -Σ_k c_k logp_k,          d loss / d z_j = p_j Σ_k c_k - c_j.
// For class labels this equals PyTorch's (1-eps) w_y nll + eps/K Σ_k w_k (-logp_k), and the
// normaliser is w_y (so Σ loss / Σ w_y is PyTorch's weighted mean). Soft-target rows
// normalise by 1, as PyTorch does for probability targets.

import Foundation

extension HeadLoss {
    /// The class a row is trained towards, or nil when the row is not labelled.
    /// Dense rows (soft or one-hot) give their argmax; any NaN masks the row.
    @inline(__always)
    func rowClass(_ targets: HeadTargets, _ i: Int, _ k: Int) -> Int? {
        switch targets {
        case let .classes(y):
            let c = Int(y[i])
            return c >= 0 && c < k ? c : nil
        case let .dense(t):
            var best = 0
            for j in 0..<k {
                let v = t[i * k + j]
                if v.isNaN { return nil }
                if v > t[i * k + best] { best = j }
            }
            return best
        }
    }

    func softmaxCrossEntropy(_ logits: UnsafePointer<Float>, _ targets: HeadTargets, _ n: Int, _ k: Int,
                             _ dlogits: UnsafeMutablePointer<Float>, _ eps: Double,
                             _ weights: [Double]?) -> LossSums {
        var sums = LossSums()
        var logp = [Double](repeating: 0, count: k)
        var c = [Double](repeating: 0, count: k)
        rows: for i in 0..<n {
            let rowNormalizer: Double
            switch targets {
            case let .classes(y):
                let label = Int(y[i])
                // Labels outside 0..<K other than -1 are rejected by the dataset reader; here
                // they are treated like -1 so a bad label can never index out of bounds.
                guard label >= 0 && label < k else { continue rows }
                for j in 0..<k { c[j] = eps / Double(k) }
                c[label] += 1 - eps
                rowNormalizer = weights?[label] ?? 1
            case let .dense(t):
                for j in 0..<k {
                    let v = Double(t[i * k + j])
                    if v.isNaN { continue rows }
                    c[j] = (1 - eps) * v + eps / Double(k)
                }
                rowNormalizer = 1
            }
            if let w = weights { for j in 0..<k { c[j] *= w[j] } }
            StableMath.logSoftmax(logits + i * k, k, into: &logp)
            var loss = 0.0, csum = 0.0
            for j in 0..<k { loss -= c[j] * logp[j]; csum += c[j] }
            let d = dlogits + i * k
            for j in 0..<k { d[j] = Float(exp(logp[j]) * csum - c[j]) }
            sums.loss += loss
            sums.normalizer += rowNormalizer
            sums.labelledRows += 1
        }
        return sums
    }

    /// FL = -a_y (1 - p_y)^gamma log p_y (Lin et al. 2017, softmax form).
    /// With g = (1-p)^gamma, h = gamma (1-p)^(gamma-1) p log p (p = p_y):
    ///   d FL / d z_j = a_y (h - g) (δ_jy - p_j).
    /// Class weights (if any) multiply a_y and the normaliser becomes Σ w_y.
    func softmaxFocal(_ logits: UnsafePointer<Float>, _ targets: HeadTargets, _ n: Int, _ k: Int,
                      _ dlogits: UnsafeMutablePointer<Float>, _ gamma: Double, _ alpha: [Double],
                      _ weights: [Double]?) -> LossSums {
        var sums = LossSums()
        var logp = [Double](repeating: 0, count: k)
        for i in 0..<n {
            guard let y = rowClass(targets, i, k) else { continue }
            StableMath.logSoftmax(logits + i * k, k, into: &logp)
            let w = weights?[y] ?? 1
            let a = (alpha.isEmpty ? 1 : alpha[y]) * w
            let lp = logp[y], p = exp(lp), q = max(0, 1 - p)
            let g = gamma == 0 ? 1 : pow(q, gamma)
            // (1-p)^(gamma-1) diverges at p = 1 for gamma < 1, but is multiplied by log p = 0.
            let h = gamma == 0 || q == 0 ? 0 : gamma * pow(q, gamma - 1) * p * lp
            let d = dlogits + i * k
            for j in 0..<k {
                let delta = j == y ? 1.0 : 0.0
                d[j] = Float(a * (h - g) * (delta - exp(logp[j])))
            }
            sums.loss += -a * g * lp
            sums.normalizer += w
            sums.labelledRows += 1
        }
        return sums
    }
}
