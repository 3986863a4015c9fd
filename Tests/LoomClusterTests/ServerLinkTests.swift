// A worker's link to a shard server keeps streamed weights ranges as they came
// (`ServerLink.parts`) and builds the slice from them only when asked: the slice must be
// the one a buffer written range by range in order of arrival held, bit for bit.

import LoomWire
import Testing
@testable import LoomCluster

@Suite struct ServerLinkTests {
    private func link(lower: Int, upper: Int) -> ServerLink {
        ServerLink(address: ServerAddress(endpoint: "tcp://10.200.0.2:5600", lower: lower, upper: upper),
                   transport: InMemoryNetwork().connectWorker())
    }

    /// Distinct bit patterns per (version, element), so a misplaced or stale value shows.
    private func values(_ range: Range<Int>, version: UInt64) -> [Float] {
        range.map { Float(bitPattern: 0x3F80_0000 ^ UInt32(truncatingIfNeeded: $0 &* 2654435761) ^ UInt32(version << 20)) }
    }

    @Test func rangesInAnyOrderMakeTheSliceOnceAllAreIn() {
        var l = link(lower: 100, upper: 164)
        let whole = values(100..<164, version: 3)
        // Out of order; the slice is complete only with the last of them.
        let cuts: [Range<Int>] = [140..<164, 100..<120, 120..<130, 130..<140]
        for (i, r) in cuts.enumerated() {
            #expect(l.version == nil && l.slice == nil, "complete after \(i) of \(cuts.count) ranges")
            l.take(Array(whole[(r.lowerBound - 100)..<(r.upperBound - 100)]), lower: r.lowerBound, upper: r.upperBound, version: 3)
        }
        #expect(l.version == 3)
        let slice = l.slice
        #expect(slice?.map(\.bitPattern) == whole.map(\.bitPattern))
        // A repeated range of the same version changes nothing (the version is held).
        l.take(values(100..<120, version: 9), lower: 100, upper: 120, version: 3)
        #expect(l.slice?.map(\.bitPattern) == whole.map(\.bitPattern))
    }

    @Test func overlappingRangesKeepTheLaterValuesWhereTheyMeet() {
        var l = link(lower: 0, upper: 32)
        let a = values(0..<20, version: 1), b = values(0..<32, version: 2)
        l.take(a, lower: 0, upper: 20, version: 5)
        l.take(Array(b[10..<32]), lower: 10, upper: 32, version: 5)
        #expect(l.version == 5)
        #expect(l.slice?.map(\.bitPattern) == (Array(a[0..<10]) + Array(b[10..<32])).map(\.bitPattern))
    }

    @Test func aNewVersionStartsAfreshAndAWholeSliceIsKeptAsItCame() {
        var l = link(lower: 16, upper: 48)
        let v1 = values(16..<48, version: 1), v2 = values(16..<48, version: 2)
        l.take(v1, lower: 16, upper: 48, version: 1)
        #expect(l.version == 1 && l.slice?.map(\.bitPattern) == v1.map(\.bitPattern))
        // Half of version 2, then ranges of version 3: version 2's half is dropped.
        l.take(Array(v2[0..<16]), lower: 16, upper: 32, version: 2)
        #expect(l.version == 1 && l.slice?.map(\.bitPattern) == v1.map(\.bitPattern))
        let v3 = values(16..<48, version: 3)
        l.take(Array(v3[16..<32]), lower: 32, upper: 48, version: 3)
        #expect(l.version == 1)
        l.take(Array(v3[0..<16]), lower: 16, upper: 32, version: 3)
        #expect(l.version == 3 && l.slice?.map(\.bitPattern) == v3.map(\.bitPattern))
        // Ranges outside the slice or of the wrong length are not taken.
        l.take(values(0..<20, version: 4), lower: 0, upper: 20, version: 4)
        l.take(values(16..<30, version: 4), lower: 16, upper: 32, version: 4)
        #expect(l.partial.isEmpty && l.version == 3)
    }
}
