// Softmax cross-entropy over class logits, the loss of softmax heads.
//   loss_n = logsumexp(z_n) − z_n[y_n],   dloss_n/dz_n = softmax(z_n) − onehot(y_n)
// The kernel returns the SUM over labelled rows and writes the gradient of that sum; the
// caller divides by the labelled count (or the global batch) once, which keeps micro-shard
// sums exact to add.

/// A label the kernels cannot use.
public enum KernelError: Error, CustomStringConvertible, Equatable {
    /// `labels[row]` is neither −1 (unlabelled) nor a class in 0..<classes.
    case labelOutOfRange(row: Int, label: Int32, classes: Int)

    public var description: String {
        switch self {
        case let .labelOutOfRange(row, label, classes):
            return "label \(label) in row \(row) is outside 0..<\(classes) (use -1 for unlabelled)"
        }
    }
}

/// What `softmaxCrossEntropy` measured.
public struct LossSum: Equatable, Sendable {
    /// Σ over labelled rows of −log softmax(z)[label], in nats.
    public var loss: Double
    /// Number of rows with a label (≠ −1).
    public var labelled: Int
    /// Rows whose largest logit is at the label (first maximum wins ties).
    public var correct: Int
}

/// dlogits (N, K) = softmax(logits) − onehot(label) for labelled rows, 0 for rows whose
/// label is −1; returns the summed loss. labels (N) are class indices or −1. Throws (and
/// leaves dlogits partly written) when a label is out of range.
public func softmaxCrossEntropy(dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
                                labels: UnsafePointer<Int32>, batch n: Int,
                                classes k: Int) throws(KernelError) -> LossSum {
    var result = LossSum(loss: 0, labelled: 0, correct: 0)
    for i in 0..<n {
        let z = logits + i * k
        let d = dlogits + i * k
        let label = labels[i]
        if label == -1 {
            d.update(repeating: 0, count: k)
            continue
        }
        guard label >= 0 && Int(label) < k else {
            throw .labelOutOfRange(row: i, label: label, classes: k)
        }
        var best = 0
        for j in 1..<max(k, 1) where z[j] > z[best] { best = j }
        let top = z[best]
        var sum = 0.0
        for j in 0..<k {
            let e = Float(expf(z[j] - top))
            d[j] = e
            sum += Double(e)
        }
        let inverse = Float(1 / sum)
        for j in 0..<k { d[j] *= inverse }
        d[Int(label)] -= 1
        result.loss += naturalLog(sum) - Double(z[Int(label)] - top)
        result.labelled += 1
        if best == Int(label) { result.correct += 1 }
    }
    return result
}

#if canImport(Glibc)
import Glibc
@inline(__always) func naturalLog(_ x: Double) -> Double { Glibc.log(x) }
#else
import Foundation
@inline(__always) func naturalLog(_ x: Double) -> Double { Foundation.log(x) }
#endif
