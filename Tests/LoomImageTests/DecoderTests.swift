// The decoders on real files written by TurboJPEG's and libpng's encoders.

import LoomImage
import Testing

@Suite struct JPEGDecoderTests {
    let preprocessor = ImagePreprocessor(ImagePreprocessing(size: 32))

    @Test func rgbJPEGDecodesCloseToItsPixels() throws {
        let pixels = TestImages.gradient(width: 64, height: 48)
        let bytes = try TestImages.jpeg(pixels, width: 64, height: 48)
        let image = try bytes.withUnsafeBytes { try preprocessor.decode($0) }
        #expect(image.width == 64 && image.height == 48)
        #expect(TestImages.meanAbsoluteDifference(image.pixels, pixels) < 2.5)
    }

    @Test func grayscaleJPEGBecomesEqualChannels() throws {
        let gray: [UInt8] = (0..<(40 * 30)).map { (i: Int) -> UInt8 in UInt8((i * 7) % 256 / 2 + 40) }
        let bytes = try TestImages.jpeg(gray, width: 40, height: 30, channels: 1)
        let image = try bytes.withUnsafeBytes { try preprocessor.decode($0) }
        #expect(image.width == 40 && image.height == 30)
        for i in 0..<(40 * 30) {
            #expect(image.pixels[3 * i] == image.pixels[3 * i + 1] && image.pixels[3 * i] == image.pixels[3 * i + 2])
        }
    }

    /// TurboJPEG writes CMYK as an Adobe YCCK JPEG with inverted inks (255 = no ink).
    @Test func adobeCMYKJPEGConvertsInvertedInksToRGB() throws {
        // Inks (c, m, y, k) per quarter: pure cyan-free red (m + y), blue (c + m), 50% black, none.
        let inks: [(Int, Int, Int, Int)] = [(0, 255, 255, 0), (255, 255, 0, 0), (0, 0, 0, 128), (0, 0, 0, 0)]
        let expected: [(Int, Int, Int)] = [(255, 0, 0), (0, 0, 255), (127, 127, 127), (255, 255, 255)]
        var cmyk = [UInt8](repeating: 0, count: 32 * 32 * 4)
        for y in 0..<32 {
            for x in 0..<32 {
                let q = (y / 16) * 2 + x / 16
                let ink = inks[q]
                let i = (y * 32 + x) * 4
                cmyk[i] = UInt8(255 - ink.0); cmyk[i + 1] = UInt8(255 - ink.1)
                cmyk[i + 2] = UInt8(255 - ink.2); cmyk[i + 3] = UInt8(255 - ink.3)
            }
        }
        let bytes = try TestImages.jpeg(cmyk, width: 32, height: 32, channels: 4)
        let image = try bytes.withUnsafeBytes { try preprocessor.decode($0) }
        for (q, e) in expected.enumerated() {
            let p = image[(q % 2) * 16 + 8, (q / 2) * 16 + 8]
            #expect(abs(Int(p.0) - e.0) <= 4 && abs(Int(p.1) - e.1) <= 4 && abs(Int(p.2) - e.2) <= 4,
                    "quarter \(q): \(p), expected \(e)")
        }
    }

    @Test(arguments: 1...8) func exifOrientationIsApplied(orientation: Int) throws {
        // Stored 48x32 with red top-left; displayed as the orientation says.
        let stored = TestImages.quadrants(width: 48, height: 32)
        let bytes = try TestImages.jpeg(stored, width: 48, height: 32, orientation: orientation)
        let image = try bytes.withUnsafeBytes { try preprocessor.decode($0) }
        let expected = RGBImage(width: 48, height: 32, pixels: stored).oriented(orientation)
        #expect(image.width == (orientation >= 5 ? 32 : 48))
        #expect(image.height == expected.height)
        #expect(TestImages.meanAbsoluteDifference(image.pixels, expected.pixels) < 3)
    }

    @Test func orientationSixRotatesClockwise() {
        // 2x1 image [red, green] rotated 90 degrees clockwise is 1x2: red on top.
        let image = RGBImage(width: 2, height: 1, pixels: [255, 0, 0, 0, 255, 0]).oriented(6)
        #expect(image.width == 1 && image.height == 2)
        #expect(image.pixels == [255, 0, 0, 0, 255, 0])
        let ccw = RGBImage(width: 2, height: 1, pixels: [255, 0, 0, 0, 255, 0]).oriented(8)
        #expect(ccw.pixels == [0, 255, 0, 255, 0, 0])
    }

    @Test func truncatedJPEGIsAnError() throws {
        let bytes = try TestImages.jpeg(TestImages.gradient(width: 64, height: 64), width: 64, height: 64)
        let cut = Array(bytes.prefix(bytes.count / 2))
        #expect(throws: ImageError.self) { try cut.withUnsafeBytes { try preprocessor.decode($0) } }
        do {
            _ = try cut.withUnsafeBytes { try preprocessor.decode($0) }
        } catch let e as ImageError {
            guard case .truncated = e else { Issue.record("expected .truncated, got \(e)"); return }
        }
    }

    @Test func corruptHeaderIsAnError() throws {
        var bytes = try TestImages.jpeg(TestImages.gradient(width: 16, height: 16), width: 16, height: 16)
        // The frame header (SOF0, FF C0) declares a sample precision of 3 bits.
        let sof = try #require((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes[sof + 4] = 3
        do {
            _ = try bytes.withUnsafeBytes { try preprocessor.decode($0) }
            Issue.record("junk JPEG decoded")
        } catch let e as ImageError {
            guard case .corrupt(let format, _) = e else { Issue.record("expected .corrupt, got \(e)"); return }
            #expect(format == "JPEG")
        }
    }

    @Test func textIsNotAnImage() {
        let bytes = Array("path,colour\n".utf8)
        #expect(throws: ImageError.notAnImage(firstBytes: "70 61 74 68 2c 63 6f 6c")) {
            try bytes.withUnsafeBytes { try preprocessor.decode($0) }
        }
        #expect(throws: ImageError.notAnImage(firstBytes: "nothing (empty file)")) {
            try [UInt8]().withUnsafeBytes { try preprocessor.decode($0) }
        }
    }
}

@Suite struct PNGDecoderTests {
    let preprocessor = ImagePreprocessor(ImagePreprocessing(size: 32))

    @Test func rgbPNGIsExact() throws {
        let pixels = TestImages.gradient(width: 30, height: 20)
        let bytes = try PNGCodec.encode(samples: pixels, width: 30, height: 20, colourType: .rgb)
        let image = try bytes.withUnsafeBytes { try preprocessor.decode($0) }
        #expect(image == RGBImage(width: 30, height: 20, pixels: pixels))
    }

    @Test func grayPNGBecomesEqualChannels() throws {
        let gray: [UInt8] = (0..<64).map { UInt8($0 * 4) }
        let bytes = try PNGCodec.encode(samples: gray, width: 8, height: 8, colourType: .gray)
        let image = try bytes.withUnsafeBytes { try preprocessor.decode($0) }
        #expect(image.pixels == gray.flatMap { [$0, $0, $0] })
    }

    @Test func alphaIsCompositedOnWhite() throws {
        // Red at alpha 255, 128, 0; gray at alpha 64.
        let rgba: [UInt8] = [255, 0, 0, 255, 255, 0, 0, 128, 255, 0, 0, 0, 100, 100, 100, 64]
        let bytes = try PNGCodec.encode(samples: rgba, width: 4, height: 1, colourType: .rgba)
        let image = try bytes.withUnsafeBytes { try preprocessor.decode($0) }
        // (c * a + 255 * (255 - a)) / 255, rounded.
        #expect(image.pixels == [255, 0, 0, 255, 127, 127, 255, 255, 255, 216, 216, 216])
        let ga: [UInt8] = [0, 255, 0, 0]
        let grayAlpha = try PNGCodec.encode(samples: ga, width: 2, height: 1, colourType: .grayAlpha)
        #expect(try grayAlpha.withUnsafeBytes { try preprocessor.decode($0) }.pixels == [0, 0, 0, 255, 255, 255])
    }

    @Test func sixteenBitKeepsTheHighByte() throws {
        // Samples 0x1234, 0xABFF, 0x00FF, then 0xFFFF twice more (big-endian).
        let samples: [UInt8] = [0x12, 0x34, 0xAB, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x80, 0x00]
        let bytes = try PNGCodec.encode(samples: samples, width: 2, height: 1, colourType: .rgb, bitDepth: 16)
        let image = try bytes.withUnsafeBytes { try preprocessor.decode($0) }
        #expect(image.pixels == [0x12, 0xAB, 0x00, 0xFF, 0xFF, 0x80])
    }

    @Test func truncatedPNGIsAnError() throws {
        let bytes = try PNGCodec.encode(samples: TestImages.gradient(width: 64, height: 64), width: 64, height: 64, colourType: .rgb)
        let cut = Array(bytes.prefix(bytes.count - 100))
        #expect(throws: ImageError.self) { try cut.withUnsafeBytes { try preprocessor.decode($0) } }
    }
}
