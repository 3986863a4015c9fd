// A confusion matrix (K, K), true class major, and what is read off it per class. Softmax
// and binary heads accumulate one (`SoftmaxMetrics.confusion`, `BinaryMetrics.confusion`);
// `loom eval --json` and `loom report` both read their per-class figures from here.
//
//   support_c    = Σ_j C[c][j]          (labelled samples of class c)
//   predicted_c  = Σ_i C[i][c]          (samples predicted as c)
//   recall_c     = C[c][c] / support_c      undefined (nil) when support_c = 0
//   precision_c  = C[c][c] / predicted_c    undefined (nil) when predicted_c = 0
//   row-normalised R[c][j] = C[c][j] / support_c   (a row of zeros when support_c = 0)

/// A (K, K) confusion matrix: `counts[trueClass * K + predicted]`.
public struct ConfusionMatrix: Equatable, Sendable {
    public let classes: Int
    public let counts: [Int]

    /// `counts` must hold `classes * classes` values, true class major.
    public init?(classes: Int, counts: [Int]) {
        guard classes > 0, counts.count == classes * classes else { return nil }
        self.classes = classes
        self.counts = counts
    }

    /// The matrix of `counts` with K = √count (nil when the count is not a square).
    public init?(counts: [Int]) {
        var k = 0
        while k * k < counts.count { k += 1 }
        self.init(classes: k, counts: counts)
    }

    public func count(true t: Int, predicted p: Int) -> Int { counts[t * classes + p] }

    /// Row `t`: how samples of class t were predicted.
    public func row(_ t: Int) -> [Int] { Array(counts[(t * classes)..<((t + 1) * classes)]) }

    public var rows: [[Int]] { (0..<classes).map(row) }

    public func support(_ c: Int) -> Int { row(c).reduce(0, +) }

    public func predicted(_ c: Int) -> Int { (0..<classes).reduce(0) { $0 + count(true: $1, predicted: c) } }

    public func recall(_ c: Int) -> Double? {
        let s = support(c)
        return s > 0 ? Double(count(true: c, predicted: c)) / Double(s) : nil
    }

    public func precision(_ c: Int) -> Double? {
        let p = predicted(c)
        return p > 0 ? Double(count(true: c, predicted: c)) / Double(p) : nil
    }

    /// Each row divided by its support (rows without a sample stay 0).
    public var rowNormalised: [[Double]] {
        (0..<classes).map { t in
            let s = support(t)
            return row(t).map { s > 0 ? Double($0) / Double(s) : 0 }
        }
    }
}
