// Inverted dropout (PyTorch `nn.Dropout`): in training each feature is zeroed with
// probability p and survivors are scaled by 1/(1 − p); in eval it is the identity.
// The mask of a sample is drawn from KeyedRandom(seed, .dropout, [step, sampleID, layer]):
// a function of the sample, never of the worker, thread or position in the batch, so that
// any sharding of a batch draws the same masks (ARCHITECTURE.md, invariant 1).

/// y (N, F) = x (N, F) · mask, mask (N, F) ∈ {0, 1/(1 − p)} written for the backward pass.
/// `sampleIDs` (N) are the dataset indices of the rows; `layer` tells dropout layers apart.
public func dropoutForward(y: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>,
                           x: UnsafePointer<Float>, batch n: Int, features: Int, p: Float,
                           seed: UInt64, step: Int, sampleIDs: UnsafePointer<Int>, layer: Int) {
    let keep = p < 1 ? 1 / (1 - p) : 0
    for i in 0..<n {
        var random = KeyedRandom(seed: seed, purpose: .dropout,
                                 keys: [UInt64(bitPattern: Int64(step)), UInt64(bitPattern: Int64(sampleIDs[i])), UInt64(layer)])
        let row = i * features
        for f in 0..<features {
            // nextFloat is in [0, 1): P(u < p) = p.
            let m: Float = random.nextFloat() < p ? 0 : keep
            mask[row + f] = m
            y[row + f] = x[row + f] * m
        }
    }
}

/// dx = dy · mask (overwritten).
public func dropoutBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                            mask: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { dx[i] = dy[i] * mask[i] }
}
