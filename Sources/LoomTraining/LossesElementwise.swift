// Element-wise losses: BCE with logits, sigmoid focal loss, mean squared error.
//
// All three are means over labelled ELEMENTS (PyTorch's reduction="mean" over (N, K)), so
// the normaliser counts elements, not rows. Per element, with x the logit and y the target:
//
//   BCE (PyTorch BCEWithLogitsLoss, pos_weight pw):
//     l = (1 - y) x + (1 + (pw - 1) y) softplus(-x),   softplus(-x) = log1p(e^-|x|) + max(-x, 0)
//     dl/dx = (1 - y) - (1 + (pw - 1) y) sigmoid(-x)          (= sigmoid(x) - y when pw = 1)
//   Sigmoid focal (torchvision.ops.sigmoid_focal_loss), p = sigmoid(x):
//     p_t = p y + (1 - p)(1 - y),  a_t = a y + (1 - a)(1 - y)  (a < 0: a_t = 1)
//     l = a_t BCE(x, y) (1 - p_t)^g
//     dl/dx = a_t [ (p - y)(1 - p_t)^g - BCE g (1 - p_t)^(g-1) p (1 - p)(2y - 1) ]
//   MSE: l = (x - y)^2,  dl/dx = 2 (x - y).
//
// Targets: dense (N, K) with NaN = not labelled; or class labels, read as 0/1 for a single
// output (binary head) and as one-hot rows for K > 1. Label -1 masks the whole row.

import Foundation

extension HeadLoss {
    /// Calls `body(element index, target)` for every labelled element of the (N, K) targets.
    @inline(__always)
    func forEachLabelledElement(_ targets: HeadTargets, _ n: Int, _ k: Int,
                                _ body: (Int, Double) -> Void) -> Int {
        var rows = 0
        switch targets {
        case let .classes(y):
            for i in 0..<n {
                let label = Int(y[i])
                if k == 1 {
                    guard label == 0 || label == 1 else { continue }
                    body(i, Double(label))
                } else {
                    guard label >= 0 && label < k else { continue }
                    for j in 0..<k { body(i * k + j, j == label ? 1 : 0) }
                }
                rows += 1
            }
        case let .dense(t):
            for i in 0..<n {
                var any = false
                for j in 0..<k {
                    let v = t[i * k + j]
                    if v.isNaN { continue }
                    body(i * k + j, Double(v))
                    any = true
                }
                if any { rows += 1 }
            }
        }
        return rows
    }

    @inline(__always)
    func softplusOfNegative(_ x: Double) -> Double { StableMath.softplusOfNegative(x) }

    @inline(__always)
    func sigmoid(_ x: Double) -> Double { StableMath.sigmoid(x) }

    func binaryCrossEntropy(_ logits: UnsafePointer<Float>, _ targets: HeadTargets, _ n: Int, _ k: Int,
                            _ dlogits: UnsafeMutablePointer<Float>, _ posWeight: [Double]) -> LossSums {
        var sums = LossSums()
        sums.labelledRows = forEachLabelledElement(targets, n, k) { e, y in
            let x = Double(logits[e])
            let pw = posWeight.isEmpty ? 1 : posWeight[posWeight.count == 1 ? 0 : e % k]
            let scale = 1 + (pw - 1) * y
            sums.loss += (1 - y) * x + scale * softplusOfNegative(x)
            sums.normalizer += 1
            dlogits[e] = Float((1 - y) - scale * sigmoid(-x))
        }
        return sums
    }

    func sigmoidFocal(_ logits: UnsafePointer<Float>, _ targets: HeadTargets, _ n: Int, _ k: Int,
                      _ dlogits: UnsafeMutablePointer<Float>, _ alpha: Double, _ gamma: Double) -> LossSums {
        var sums = LossSums()
        sums.labelledRows = forEachLabelledElement(targets, n, k) { e, y in
            let x = Double(logits[e])
            let p = sigmoid(x)
            let ce = (1 - y) * x + softplusOfNegative(x)
            let m = max(0, 1 - (p * y + (1 - p) * (1 - y)))
            let at = alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1
            let g = gamma == 0 ? 1 : pow(m, gamma)
            let dg = gamma == 0 || m == 0 ? 0 : gamma * pow(m, gamma - 1)
            sums.loss += at * ce * g
            sums.normalizer += 1
            dlogits[e] = Float(at * ((p - y) * g - ce * dg * p * (1 - p) * (2 * y - 1)))
        }
        return sums
    }

    func meanSquaredError(_ logits: UnsafePointer<Float>, _ targets: HeadTargets, _ n: Int, _ k: Int,
                          _ dlogits: UnsafeMutablePointer<Float>) -> LossSums {
        var sums = LossSums()
        sums.labelledRows = forEachLabelledElement(targets, n, k) { e, y in
            let r = Double(logits[e]) - y
            sums.loss += r * r
            sums.normalizer += 1
            dlogits[e] = Float(2 * r)
        }
        return sums
    }
}
