import LoomData
import Testing

@Suite struct PNGWriterTests {
    @Test func encodedPNGHasSignatureHeaderAndEnd() throws {
        let png = try PNGWriter.encode(rgb: [UInt8](repeating: 200, count: 4 * 3 * 3), width: 4, height: 3)
        #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        #expect(Array(png[16..<24]) == [0, 0, 0, 4, 0, 0, 0, 3])
        // IEND chunk: length 0, type, fixed CRC AE426082.
        #expect(Array(png.suffix(12)) == [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82])
    }

    @Test func wrongBufferSizeIsAnError() {
        #expect(throws: DatasetError.self) { try PNGWriter.encode(rgb: [1, 2, 3], width: 2, height: 1) }
    }
}
