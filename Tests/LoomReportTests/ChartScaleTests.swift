// Chart geometry: ticks and scales the SVG charts are drawn with.

import Testing
@testable import LoomReport

struct ChartScaleTests {
    @Test func ticksAreOneTwoOrFiveTimesAPowerOfTenInsideTheDomain() {
        let (ticks, step) = niceTicks(0.13, 2.71, count: 5)
        #expect(step == 0.5)
        #expect(ticks == [0.5, 1.0, 1.5, 2.0, 2.5])
        let (big, bigStep) = niceTicks(0, 3750, count: 6)
        #expect(bigStep == 500)
        #expect(big == [0, 500, 1000, 1500, 2000, 2500, 3000, 3500])
    }

    @Test func aScaleMapsTheDomainOntoTheRangeEvenBackwards() {
        let y = LinearScale(domain: (0, 10), range: (200, 0))
        #expect(y(0) == 200 && y(10) == 0 && y(2.5) == 150)
    }

    @Test func aSingleValueGetsADomainAroundIt() {
        let (lo, hi) = LinearScale.extent([3, 3])
        #expect(lo < 3 && hi > 3)
        #expect(LinearScale.extent([]) == (0, 1))
    }
}
