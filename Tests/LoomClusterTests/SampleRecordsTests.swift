// Sample records a worker unpacks: the target values they carry obey the dataset's rule.

import LoomCluster
import LoomData
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

    /// Records lay the image bytes out in sample order, then the labels little-endian.
    @Test func packedRecordsHoldEachImageThenItsLabels() {
        let records = SampleRecords.pack(images: Array(10..<16), labels: [[1, -1]], pixels: 3)
        #expect(records == [10, 11, 12, 1, 0, 0, 0, 13, 14, 15, 0xFF, 0xFF, 0xFF, 0xFF])
    }

    /// The synthetic benchmark images are the xorshift stream byte by byte, lowest byte of
    /// each 64-bit state first, whatever the image size (here 9 pixels: one partial word).
    @Test(arguments: [ImageShape(height: 3, width: 3, channels: 1), ImageShape(height: 28, width: 28, channels: 1)])
    func syntheticImagesAreTheXorshiftStream(shape: ImageShape) throws {
        let indices = [0, 5, 123_456]
        let images = try SyntheticSampleSource(imageShape: shape).images(split: "train", indices: indices)
        var expected: [UInt8] = []
        for index in indices {
            var x = UInt64(index) &* 0x9E37_79B9_7F4A_7C15 | 1
            var bytes: [UInt8] = []
            while bytes.count < shape.elementCount {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: x >> (8 * UInt64(k)))) }
            }
            expected += bytes.prefix(shape.elementCount)
        }
        #expect(images == expected)
    }
}
