import LoomConfig
import LoomData
import Testing

@Suite struct InputPipelineTests {
    let shape = ImageShape(height: 6, width: 5, channels: 2)

    /// Three distinct images `(3, 6, 5, 2)`.
    var images: [UInt8] { (0..<(3 * 60)).map { UInt8(($0 * 37 + 11) % 256) } }

    func config(augment: Bool) -> DataConfig {
        var c = DataConfig()
        c.mean = [0.5, 0.25]
        c.std = [0.5, 2]
        if augment {
            c.augment.cropPadding = 2
            c.augment.hflip = true
            c.augment.brightness = 0.2
            c.augment.contrast = 0.3
        }
        return c
    }

    func batch(_ p: InputPipeline, _ imgs: [UInt8], ids: [Int], epoch: Int = 0, augment: Bool = true) -> [Float] {
        var out = [Float](repeating: .nan, count: imgs.count)
        imgs.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                p.makeBatch(images: src.baseAddress!, count: ids.count, sampleIDs: ids, epoch: epoch, seed: 42,
                            augment: augment, into: dst.baseAddress!)
            }
        }
        return out
    }

    @Test func withoutAugmentationOutputIsNormalisedChannelsFirst() throws {
        let p = try InputPipeline(config: config(augment: false), imageShape: shape)
        let out = batch(p, images, ids: [0, 1, 2], augment: false)
        let img = images
        // sample 1, channel 1, y 4, x 3 from (H, W, C) storage.
        let pixel = Float(img[60 + (4 * 5 + 3) * 2 + 1]) / 255
        #expect(abs(out[60 + 30 + 4 * 5 + 3] - (pixel - 0.25) / 2) < 1e-6)
    }

    @Test func sameKeyGivesSameViewWhateverTheBatchPosition() throws {
        let p = try InputPipeline(config: config(augment: true), imageShape: shape)
        let imgs = images
        let forward = batch(p, imgs, ids: [10, 11, 12], epoch: 3)
        // The same three samples in reverse order, and sample 11 alone.
        let reversed = Array(imgs[120..<180] + imgs[60..<120] + imgs[0..<60])
        let backward = batch(p, reversed, ids: [12, 11, 10], epoch: 3)
        #expect(Array(forward[0..<60]) == Array(backward[120..<180]))
        #expect(Array(forward[60..<120]) == Array(backward[60..<120]))
        let alone = batch(p, Array(imgs[60..<120]), ids: [11], epoch: 3)
        #expect(alone == Array(forward[60..<120]))
    }

    @Test func augmentationChangesWithEpochAndSampleID() throws {
        let p = try InputPipeline(config: config(augment: true), imageShape: shape)
        let one = Array(images[0..<60])
        let a = batch(p, one, ids: [5], epoch: 0)
        #expect(a != batch(p, one, ids: [5], epoch: 1))
        #expect(a != batch(p, one, ids: [6], epoch: 0))
    }

    @Test func augmentFalseIgnoresAugmentationConfig() throws {
        let plain = try InputPipeline(config: config(augment: false), imageShape: shape)
        let augmenting = try InputPipeline(config: config(augment: true), imageShape: shape)
        #expect(batch(plain, images, ids: [0, 1, 2], augment: false) == batch(augmenting, images, ids: [0, 1, 2], augment: false))
    }

    @Test func hflipTTAMirrorsColumns() throws {
        let p = try InputPipeline(config: config(augment: false), imageShape: shape)
        let imgs = images
        var plain = [Float](repeating: 0, count: 60), flipped = [Float](repeating: 0, count: 60)
        imgs.withUnsafeBufferPointer { src in
            p.makeTTAView(images: src.baseAddress!, count: 1, transform: .identity, into: &plain)
            p.makeTTAView(images: src.baseAddress!, count: 1, transform: .hflip, into: &flipped)
        }
        for c in 0..<2 { for y in 0..<6 { for x in 0..<5 {
            #expect(flipped[c * 30 + y * 5 + x] == plain[c * 30 + y * 5 + (4 - x)])
        } } }
    }

    @Test func shiftTTAFillsUncoveredPixelsWithZeroPadding() throws {
        let p = try InputPipeline(config: DataConfig(), imageShape: shape)   // no normalisation
        var out = [Float](repeating: -1, count: 60)
        images.withUnsafeBufferPointer { src in
            p.makeTTAView(images: src.baseAddress!, count: 1, transform: .shift(dx: 2, dy: 0), into: &out)
        }
        for y in 0..<6 {
            #expect(out[y * 5 + 3] == 0 && out[y * 5 + 4] == 0)
            #expect(abs(out[y * 5 + 0] - Float(images[(y * 5 + 2) * 2]) / 255) < 1e-6)
        }
    }

    @Test func ttaNamesParseAndUnknownNamesAreErrors() throws {
        #expect(try TTATransform.parse(["identity", "hflip"]) == [.identity, .hflip])
        #expect(try TTATransform.parse(["crop"], cropShift: 1).count == 4)
        let error = #expect(throws: DatasetError.self) { try TTATransform.parse(["identity", "rotate"]) }
        #expect(error?.description.contains("data.tta[1]") == true)
    }

    @Test func meanWithWrongChannelCountIsAConfigError() {
        var c = DataConfig()
        c.mean = [0.1, 0.2, 0.3]
        let error = #expect(throws: DatasetError.self) { try InputPipeline(config: c, imageShape: shape) }
        #expect(error?.description.contains("data.mean") == true)
    }
}
