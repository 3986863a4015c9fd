// Sample records a worker unpacks: the target values they carry obey the dataset's rule.

import LoomCluster
import LoomTraining
import Testing

@Suite struct SampleRecordsTests {
    /// Two samples (ids 7 and 9) of 4 pixels, one label head and one multilabel head of K = 3.
    private func unpack(targets: [Float]) throws(SampleRecordsError) -> ShardData {
        let records = SampleRecords.pack(images: Array(0..<8), labels: [[1, 2], [-1, -1]], targets: [[], targets], pixels: 4)
        return try SampleRecords.unpack(records, ids: [7, 9], pixels: 4, heads: 2, targetWidths: [0, 3])
    }

    @Test func targetsInZeroOneAndNaNAreKept() throws {
        let targets: [Float] = [0, 1, 0.25, .nan, 1, 0]
        let data = try unpack(targets: targets)
        #expect(data.targets[1].map(\.bitPattern) == targets.map(\.bitPattern))
        #expect(data.labels == [[1, 2], [-1, -1]])
    }

    @Test(arguments: [Float(1.5), -0.25, -1, .infinity])
    func aRecordWithATargetOutsideZeroOneIsRejectedNamingSampleHeadAndElement(bad: Float) {
        #expect(throws: SampleRecordsError.target(sample: 9, head: 1, element: 1, value: bad)) {
            try unpack(targets: [0, 1, 0, 1, bad, 0])
        }
    }

    @Test func recordsOfAnotherSizeAreRejected() {
        let records = SampleRecords.pack(images: Array(0..<8), labels: [[1, 2]], pixels: 4)
        #expect(throws: SampleRecordsError.size(bytes: 16, samples: 2, recordSize: 12)) {
            try SampleRecords.unpack(records, ids: [7, 9], pixels: 4, heads: 2)
        }
    }
}
