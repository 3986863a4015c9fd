// `firstNonFinite`, the check every weights/result message and every step's sum goes through.

import LoomKernels
import Testing

struct FiniteScanTests {
    @Test func finiteExtremesPass() {
        let extremes: [Float] = [0, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                 .leastNonzeroMagnitude, -.leastNormalMagnitude, 1, -1, 3e38, 1e-40, 7, 8, 9]
        // Through the 16-lane loop and the tail, at every lane position.
        for n in [extremes.count, 16, 48, 53] {
            let values = (0..<n).map { extremes[$0 % extremes.count] }
            #expect(firstNonFinite(values) == nil, "n \(n)")
        }
        #expect(firstNonFinite([]) == nil)
    }

    @Test(arguments: [Float.nan, -Float.nan, .infinity, -.infinity, .signalingNaN])
    func everyPositionIsFound(bad: Float) {
        // Lengths around the 8-lane block: the bad value in a full block and in the tail.
        for n in [1, 7, 8, 9, 16, 17, 1000] {
            for position in Set([0, n / 2, n - 1]) {
                var values = (0..<n).map { Float($0) - 300.5 }
                values[position] = bad
                #expect(firstNonFinite(values) == position, "n \(n), position \(position), value \(bad)")
            }
        }
    }

    @Test func theFirstOfSeveralIsReported() {
        var values = [Float](repeating: 1, count: 100)
        values[90] = .nan
        values[41] = .infinity
        #expect(firstNonFinite(values) == 41)
    }
}
