// Crop boxes, area averaging and the pad / crop fits.

import LoomImage
import Testing

@Suite struct ResizeTests {
    @Test func halvingAveragesEachTwoByTwoBlock() {
        // 4x4 gray levels 0...15 (as R), G = 2R, B = 0.
        var p = [UInt8](repeating: 0, count: 4 * 4 * 3)
        for i in 0..<16 { p[3 * i] = UInt8(i * 10); p[3 * i + 1] = UInt8(i * 5) }
        let image = RGBImage(width: 4, height: 4, pixels: p)
        var out = [UInt8](repeating: 0, count: 2 * 2 * 3)
        out.withUnsafeMutableBufferPointer {
            AreaResize.resample(image, window: SourceWindow(x: 0, y: 0, width: 4, height: 4), width: 2, height: 2,
                                into: $0.baseAddress!, outputWidth: 2)
        }
        // Block (0,0): levels 0,1,4,5 -> mean 2.5 -> R 25, G 12.5 -> 13 (rounded half up).
        #expect(out == [25, 13, 0, 45, 23, 0, 105, 53, 0, 125, 63, 0])
    }

    @Test func fractionalWindowWeighsPartialPixels() {
        // One row [0, 100, 200]; the window 0.5 ..< 2.5 shrunk to one pixel covers half of
        // pixel 0, all of 1, half of 2: (0 * 0.5 + 100 + 200 * 0.5) / 2 = 100.
        let image = RGBImage(width: 3, height: 1, pixels: [0, 0, 0, 100, 100, 100, 200, 200, 200])
        var out = [UInt8](repeating: 0, count: 3)
        out.withUnsafeMutableBufferPointer {
            AreaResize.resample(image, window: SourceWindow(x: 0.5, y: 0, width: 2, height: 1), width: 1, height: 1,
                                into: $0.baseAddress!, outputWidth: 1)
        }
        #expect(out == [100, 100, 100])
    }

    @Test func padKeepsTheAspectRatioOnBlack() throws {
        // A 40x20 white PNG padded into 20x20: white rows 5..<15, black above and below.
        let white = [UInt8](repeating: 255, count: 40 * 20 * 3)
        let bytes = try PNGCodec.encode(samples: white, width: 40, height: 20, colourType: .rgb)
        let out = try ImagePreprocessor(ImagePreprocessing(size: 20, fit: .pad)).prepare(bytes)
        for y in 0..<20 {
            let v = out[(y * 20 + 10) * 3]
            #expect(v == ((5..<15).contains(y) ? 255 : 0), "row \(y)")
        }
    }

    @Test func cropTakesTheCentredSquare() throws {
        // 30x10: left third red, middle green, right blue. crop to 10x10 keeps the green.
        var p = [UInt8](repeating: 0, count: 30 * 10 * 3)
        for y in 0..<10 { for x in 0..<30 { p[(y * 30 + x) * 3 + x / 10] = 255 } }
        let bytes = try PNGCodec.encode(samples: p, width: 30, height: 10, colourType: .rgb)
        let out = try ImagePreprocessor(ImagePreprocessing(size: 10, fit: .crop)).prepare(bytes)
        #expect(out == [UInt8](repeating: 0, count: 0) + (0..<100).flatMap { _ in [0, 255, 0] as [UInt8] })
    }

    @Test func boxIsCutBeforeResizing() throws {
        // Quadrants 40x40; the box over the bottom-right quadrant gives white only.
        let q = TestImages.quadrants(width: 40, height: 40)
        let bytes = try PNGCodec.encode(samples: q, width: 40, height: 40, colourType: .rgb)
        let pre = ImagePreprocessor(ImagePreprocessing(size: 8, fit: .crop))
        #expect(try pre.prepare(bytes, box: CropBox(x1: 20, y1: 20, x2: 40, y2: 40)) == [UInt8](repeating: 255, count: 8 * 8 * 3))
        // Clamped: a box reaching past the image keeps only its inside part.
        #expect(try pre.prepare(bytes, box: CropBox(x1: 20, y1: 20, x2: 90, y2: 90)) == [UInt8](repeating: 255, count: 8 * 8 * 3))
    }

    @Test func boxOutsideOrEmptyIsAnError() throws {
        let bytes = try PNGCodec.encode(samples: TestImages.quadrants(width: 40, height: 40), width: 40, height: 40, colourType: .rgb)
        let pre = ImagePreprocessor(ImagePreprocessing(size: 8))
        let outside = CropBox(x1: 50, y1: 0, x2: 60, y2: 10)
        #expect(throws: ImageError.boxOutside(box: outside, width: 40, height: 40)) { try pre.prepare(bytes, box: outside) }
        let empty = CropBox(x1: 10, y1: 10, x2: 10, y2: 30)
        #expect(throws: ImageError.emptyBox(box: empty)) { try pre.prepare(bytes, box: empty) }
    }

    @Test func reducedScaleDecodeStaysCloseToFullDecode() throws {
        // 640x480 photo-like gradient, to 96x96: decoding at 1/2 scale, then averaging,
        // differs from a full-size decode by well under one level on average.
        let bytes = try TestImages.jpeg(TestImages.gradient(width: 640, height: 480), width: 640, height: 480,
                                        quality: 90, subsampling: .s420)
        for fit in Fit.allCases {
            let fast = try ImagePreprocessor(ImagePreprocessing(size: 96, fit: fit, reductionGap: 2)).prepare(bytes)
            let full = try ImagePreprocessor(ImagePreprocessing(size: 96, fit: fit, reductionGap: 0)).prepare(bytes)
            #expect(TestImages.meanAbsoluteDifference(fast, full) < 1.0, "\(fit)")
        }
    }

    @Test func preprocessingSummaryRoundTrips() {
        let p = ImagePreprocessing(size: 96, fit: .crop, reductionGap: 2)
        #expect(p.summary == "size=96 fit=crop filter=area gap=2")
        #expect(ImagePreprocessing(summary: p.summary) == p)
        #expect(ImagePreprocessing(summary: "size=0 fit=pad filter=area gap=2") == nil)
    }
}
