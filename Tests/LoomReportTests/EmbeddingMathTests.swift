// The arithmetic behind `loom similar` and the feature map: cosine neighbours and PCA.

import Foundation
import Testing
@testable import LoomReport

struct EmbeddingMathTests {
    @Test func neighboursAreRankedByCosineSimilarityWithoutTheQuery() {
        // Rows: (1, 0), (2, 0.1), (0, 1), (-1, 0), (1, 1).
        let values: [Float] = [1, 0, 2, 0.1, 0, 1, -1, 0, 1, 1]
        let n = Similarity.nearest(to: 0, in: values, width: 2, k: 3)
        #expect(n.map(\.row) == [1, 4, 2])
        #expect(abs(n[1].similarity - 1 / 2.0.squareRoot()) < 1e-12)
        #expect(Similarity.nearest(to: 0, in: values, width: 2, k: 10).last?.row == 3, "the opposite vector comes last")
    }

    @Test func thePrincipalComponentsFollowTheSpreadOfThePoints() {
        // Points spread along (3, 4)/5 by t in -9.5...9.5, each once at +0.5 and once at -0.5
        // across it (so t and s are uncorrelated and both have mean 0).
        var values: [Float] = []
        var expected: [(Double, Double)] = []
        for i in 0..<20 {
            for s in [0.5, -0.5] {
                let t = Double(i) - 9.5
                values += [Float(3 * t / 5 - 4 * s / 5 + 7), Float(4 * t / 5 + 3 * s / 5 - 2)]
                expected.append((t, s))
            }
        }
        let p = principalComponents(values, width: 2)
        #expect(p.count == 40)
        for (point, e) in zip(p, expected) {
            #expect(abs(abs(point.0) - abs(e.0)) < 1e-5, "\(point) for \(e)")
            #expect(abs(abs(point.1) - 0.5) < 1e-5, "\(point) for \(e)")
        }
        // Deterministic: the same input gives the same map.
        #expect(principalComponents(values, width: 2).map(\.0) == p.map(\.0))
    }

    @Test func largeThumbnailsAreShrunkByBoxAveraging() {
        // 4x2 RGB image: left 2x2 block black/white checker (mean 127), right block all 200.
        let rgb: [UInt8] = [0, 0, 0, 255, 255, 255, 200, 200, 200, 200, 200, 200,
                            255, 255, 255, 0, 0, 0, 200, 200, 200, 200, 200, 200]
        let (small, w, h) = EmbeddingFigures.shrink(rgb, width: 4, height: 2, maxSide: 2)
        #expect(w == 2 && h == 1)
        #expect(small == [127, 127, 127, 200, 200, 200])
        #expect(EmbeddingFigures.shrink(rgb, width: 4, height: 2, maxSide: 4).1 == 4, "small images stay as they are")
    }
}
