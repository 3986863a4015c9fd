// Dropout masks are keyed by sample, never by position in the batch.
import LoomKernels
import Testing

private func masks(ids: [Int], features: Int, p: Float = 0.5, step: Int = 1) -> [[Float]] {
    var y = [Float](repeating: 0, count: ids.count * features), mask = y
    let x = [Float](repeating: 1, count: ids.count * features)
    dropoutForward(y: &y, mask: &mask, x: x, batch: ids.count, features: features, p: p, seed: 9, step: step,
                   sampleIDs: ids, layer: 3)
    return (0..<ids.count).map { Array(mask[($0 * features)..<(($0 + 1) * features)]) }
}

@Test func dropoutMaskDependsOnTheSampleNotItsPositionInTheBatch() {
    let together = masks(ids: [5, 6, 7], features: 64)
    let alone = masks(ids: [7], features: 64)
    #expect(together[2] == alone[0])
    #expect(together[0] != together[1])
}

@Test func dropoutMaskChangesWithTheStep() {
    #expect(masks(ids: [5], features: 64, step: 1) != masks(ids: [5], features: 64, step: 2))
}

@Test func dropoutKeepsAboutOneMinusPAndScalesSurvivors() {
    let mask = masks(ids: [1], features: 20_000, p: 0.25)[0]
    let kept = mask.filter { $0 != 0 }
    #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
    #expect(abs(Double(kept.count) / 20_000 - 0.75) < 0.02)
}
