// Head losses over flat Float buffers: the value of the loss SUM and the gradient of that sum.
//
// Why sums: a minibatch is cut into micro-shards that different workers evaluate. Each
// returns Σ loss and the normaliser (labelled rows, labelled elements, or Σ w[y] for
// class-weighted cross-entropy) and writes d(Σ loss)/d logits. The coordinator adds the
// partial sums in the fixed reduction order and divides once by the total normaliser,
// which gives exactly PyTorch's `reduction="mean"` over the whole minibatch.
//
// Masking: class label -1 (softmax, binary) and NaN targets (multilabel, regression) mark
// "not labelled"; such rows/elements add nothing to the sum, the normaliser or dlogits.
// The math of each loss is in docs/TRAINING.md.

import LoomConfig

/// What a head is trained against, for `count` rows.
public enum HeadTargets {
    /// Class indices (N): softmax heads, and binary heads (0/1). -1 = not labelled.
    case classes(UnsafePointer<Int32>)
    /// Dense targets (N, K): multilabel 0/1 (or soft) targets, regression targets, or binary
    /// (N, 1). NaN = not labelled (masks that element).
    case dense(UnsafePointer<Float>)
}

/// The partial result of a loss over some rows. Add partial results, then divide.
public struct LossSums: Equatable, Sendable {
    /// Σ of per-sample (or per-element) losses, weights included.
    public var loss: Double
    /// What the mean divides by: labelled rows (softmax), labelled elements (BCE, MSE),
    /// or Σ w[y] over labelled rows (class-weighted cross-entropy).
    public var normalizer: Double
    /// Number of labelled rows that contributed (for metrics and logs).
    public var labelledRows: Int

    public init(loss: Double = 0, normalizer: Double = 0, labelledRows: Int = 0) {
        self.loss = loss; self.normalizer = normalizer; self.labelledRows = labelledRows
    }

    /// The mean loss (0 when nothing was labelled).
    public var mean: Double { normalizer > 0 ? loss / normalizer : 0 }

    public static func + (a: LossSums, b: LossSums) -> LossSums {
        LossSums(loss: a.loss + b.loss, normalizer: a.normalizer + b.normalizer,
                 labelledRows: a.labelledRows + b.labelledRows)
    }
}

/// A loss configuration that does not fit its head.
public struct LossError: Error, CustomStringConvertible, Equatable {
    public var head: String
    public var message: String
    public init(head: String, _ message: String) { self.head = head; self.message = message }
    public var description: String { "loss of head '\(head)': \(message)" }
}

/// The loss of one head, resolved from its config: which formula, with which constants.
public struct HeadLoss: Equatable, Sendable {
    /// The formula actually applied.
    public enum Formula: Equatable, Sendable {
        /// Softmax cross-entropy with optional label smoothing and class weights.
        case softmaxCrossEntropy(labelSmoothing: Double, classWeights: [Double]?)
        /// FL = -alpha[y] (1 - p_y)^gamma log p_y (alpha = 1 when empty).
        case softmaxFocal(gamma: Double, alpha: [Double], classWeights: [Double]?)
        /// PyTorch BCEWithLogits; `posWeight` has K entries, 1 entry (broadcast) or none.
        case binaryCrossEntropy(posWeight: [Double])
        /// torchvision.ops.sigmoid_focal_loss; alpha < 0 disables the alpha balancing.
        case sigmoidFocal(alpha: Double, gamma: Double)
        /// (x - t)^2 per element; class-index targets are read as one-hot vectors.
        case meanSquaredError
    }

    public var formula: Formula
    /// Outputs per row: classes (softmax, multilabel) or 1 (binary).
    public var classes: Int

    /// Builds a head's loss. `classWeights` are the resolved weights (see `ClassWeights`),
    /// used by cross-entropy and softmax focal losses; `head` names errors.
    public init(kind: HeadConfig.Kind, config: LossConfig, classes: Int,
                classWeights: [Double]? = nil, head: String = "") throws(LossError) {
        guard classes >= 1 else { throw LossError(head: head, "needs at least 1 output, got \(classes)") }
        if kind == .softmax && classes < 2 && config.kind != .mse {
            throw LossError(head: head, "a softmax head needs at least 2 classes, got \(classes)")
        }
        if let w = classWeights {
            guard w.count == classes else {
                throw LossError(head: head, "\(w.count) class weights for \(classes) classes")
            }
            guard w.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw LossError(head: head, "class weights must be finite and >= 0: \(w)")
            }
        }
        self.classes = classes
        switch (config.kind, kind) {
        case (.mse, _):
            formula = .meanSquaredError
        case (.crossEntropy, .softmax):
            guard config.labelSmoothing >= 0 && config.labelSmoothing <= 1 else {
                throw LossError(head: head, "label_smoothing must be in [0, 1], got \(config.labelSmoothing)")
            }
            formula = .softmaxCrossEntropy(labelSmoothing: config.labelSmoothing, classWeights: classWeights)
        case (.focal, .softmax):
            var alpha = config.alphaPerClass
            if alpha.isEmpty, let a = config.alpha { alpha = Array(repeating: a, count: classes) }
            guard alpha.isEmpty || alpha.count == classes else {
                throw LossError(head: head, "\(alpha.count) focal alpha values for \(classes) classes")
            }
            guard config.gamma >= 0 else { throw LossError(head: head, "focal gamma must be >= 0, got \(config.gamma)") }
            formula = .softmaxFocal(gamma: config.gamma, alpha: alpha, classWeights: classWeights)
        case (.crossEntropy, .binary), (.crossEntropy, .multilabel):
            let pw = config.posWeight
            guard pw.isEmpty || pw.count == 1 || pw.count == classes else {
                throw LossError(head: head, "\(pw.count) pos_weight values for \(classes) outputs")
            }
            formula = .binaryCrossEntropy(posWeight: pw)
        case (.focal, .binary), (.focal, .multilabel):
            guard config.gamma >= 0 else { throw LossError(head: head, "focal gamma must be >= 0, got \(config.gamma)") }
            formula = .sigmoidFocal(alpha: config.alpha ?? 0.25, gamma: config.gamma)
        }
    }

    /// Evaluates the loss SUM over `count` rows and writes d(sum)/d logits.
    ///
    /// - logits: (N, K) row-major, K = `classes`.
    /// - dlogits: (N, K), overwritten; zero on masked rows/elements.
    /// Divide the (summed) gradient by the (summed) `normalizer` to get PyTorch's mean.
    public func evaluate(logits: UnsafePointer<Float>, targets: HeadTargets, count n: Int,
                         dlogits: UnsafeMutablePointer<Float>) -> LossSums {
        let k = classes
        dlogits.initialize(repeating: 0, count: n * k)
        switch formula {
        case let .softmaxCrossEntropy(eps, weights):
            return softmaxCrossEntropy(logits, targets, n, k, dlogits, eps, weights)
        case let .softmaxFocal(gamma, alpha, weights):
            return softmaxFocal(logits, targets, n, k, dlogits, gamma, alpha, weights)
        case let .binaryCrossEntropy(posWeight):
            return binaryCrossEntropy(logits, targets, n, k, dlogits, posWeight)
        case let .sigmoidFocal(alpha, gamma):
            return sigmoidFocal(logits, targets, n, k, dlogits, alpha, gamma)
        case .meanSquaredError:
            return meanSquaredError(logits, targets, n, k, dlogits)
        }
    }

    /// Convenience over arrays: logits (N, K), returns the sums and dlogits of the sum.
    public func evaluate(logits: [Float], labels: [Int32]) -> (sums: LossSums, dlogits: [Float]) {
        var d = [Float](repeating: 0, count: logits.count)
        let n = labels.count
        guard n > 0, logits.count == n * classes else { return (LossSums(), d) }
        let sums = logits.withUnsafeBufferPointer { l in
            labels.withUnsafeBufferPointer { y in
                d.withUnsafeMutableBufferPointer { dp in
                    evaluate(logits: l.baseAddress!, targets: .classes(y.baseAddress!), count: n,
                             dlogits: dp.baseAddress!)
                }
            }
        }
        return (sums, d)
    }

    /// Convenience over arrays: logits (N, K) and dense targets (N, K).
    public func evaluate(logits: [Float], targets: [Float]) -> (sums: LossSums, dlogits: [Float]) {
        var d = [Float](repeating: 0, count: logits.count)
        let n = targets.count / classes
        guard n > 0, logits.count == targets.count else { return (LossSums(), d) }
        let sums = logits.withUnsafeBufferPointer { l in
            targets.withUnsafeBufferPointer { t in
                d.withUnsafeMutableBufferPointer { dp in
                    evaluate(logits: l.baseAddress!, targets: .dense(t.baseAddress!), count: n,
                             dlogits: dp.baseAddress!)
                }
            }
        }
        return (sums, d)
    }
}
