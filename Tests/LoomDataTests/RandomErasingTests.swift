// data.augment.erasing: one rectangle per sample set to 0 after normalisation (the
// channel mean), drawn from the (seed, epoch, sample) augmentation stream.

import LoomConfig
import LoomData
import Testing

@Suite struct RandomErasingTests {
    let shape = ImageShape(height: 8, width: 10, channels: 2)
    var plane: Int { 80 }
    var sample: Int { 160 }

    /// Images whose pixels never equal the mean (127.5 / 255), so no unerased value is 0.
    func images(_ count: Int) -> [UInt8] {
        (0..<(count * sample)).map { i in
            let v = UInt8((i * 37 + 11) % 256)
            return v == 127 || v == 128 ? 200 : v
        }
    }

    func pipeline(p: Double, scale: [Double] = [0.02, 0.33], ratio: [Double] = [0.3, 3.3]) throws -> InputPipeline {
        var c = DataConfig()
        c.mean = [0.5]
        c.std = [0.25]
        var e = ErasingConfig()
        e.p = p
        e.scale = scale
        e.ratio = ratio
        c.augment.erasing = e
        return try InputPipeline(config: c, imageShape: shape)
    }

    func batch(_ p: InputPipeline, _ imgs: [UInt8], ids: [Int], epoch: Int = 0, augment: Bool = true) -> [Float] {
        var out = [Float](repeating: .nan, count: imgs.count)
        imgs.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                p.makeBatch(images: src.baseAddress!, count: ids.count, sampleIDs: ids, epoch: epoch, seed: 7,
                            augment: augment, into: dst.baseAddress!)
            }
        }
        return out
    }

    /// The erased (y, x) positions of sample `i` of `out`, checked equal on every channel.
    func erased(_ out: [Float], sample i: Int) -> Set<[Int]> {
        var zeros = Set<[Int]>()
        for y in 0..<8 { for x in 0..<10 where out[i * sample + y * 10 + x] == 0 { zeros.insert([y, x]) } }
        for y in 0..<8 { for x in 0..<10 {
            #expect((out[i * sample + plane + y * 10 + x] == 0) == zeros.contains([y, x]))
        } }
        return zeros
    }

    /// The bounding box (rows, columns) of `cells`; they must fill it.
    func rectangle(_ cells: Set<[Int]>) -> (h: Int, w: Int)? {
        guard !cells.isEmpty else { return nil }
        let ys = cells.map { $0[0] }, xs = cells.map { $0[1] }
        let h = ys.max()! - ys.min()! + 1, w = xs.max()! - xs.min()! + 1
        #expect(cells.count == h * w)
        return (h, w)
    }

    @Test func fixedScaleAndRatioEraseOneRectangleOfThatSizeAndNothingElse() throws {
        // A quarter of 80 pixels, square: each side is round(sqrt(20)) = 4.
        let p = try pipeline(p: 1, scale: [0.25, 0.25], ratio: [1, 1])
        let plain = try InputPipeline(config: { var c = DataConfig(); c.mean = [0.5]; c.std = [0.25]; return c }(),
                                      imageShape: shape)
        let imgs = images(6)
        let ids = Array(100..<106)
        let out = batch(p, imgs, ids: ids)
        let reference = batch(plain, imgs, ids: ids, augment: false)
        var corners = Set<[Int]>()
        for i in 0..<6 {
            let cells = erased(out, sample: i)
            let r = try #require(rectangle(cells))
            #expect(r.h == 4 && r.w == 4)
            corners.insert([cells.map { $0[0] }.min()!, cells.map { $0[1] }.min()!])
            for k in 0..<sample where out[i * sample + k] != 0 {
                #expect(out[i * sample + k] == reference[i * sample + k])
            }
        }
        #expect(corners.count > 1, "six samples put the rectangle in one place")
    }

    @Test func rectanglesStayWithinScaleAndRatioBounds() throws {
        let p = try pipeline(p: 1, scale: [0.1, 0.3], ratio: [0.5, 2])
        let n = 200
        let out = batch(p, images(n), ids: Array(0..<n), epoch: 3)
        var sizes = Set<Int>()
        for i in 0..<n {
            guard let r = rectangle(erased(out, sample: i)) else { continue }
            // Rounding each side moves the area and ratio a little past the drawn ones.
            let area = Double(r.h * r.w) / 80
            #expect(area >= 0.1 * 0.6 && area <= 0.3 * 1.5, "area fraction \(area)")
            let aspect = Double(r.h) / Double(r.w)
            #expect(aspect >= 0.5 / 1.8 && aspect <= 2 * 1.8, "aspect \(aspect)")
            sizes.insert(r.h * 100 + r.w)
        }
        #expect(sizes.count >= 4, "the rectangle's size does not vary: \(sizes)")
    }

    @Test func probabilityIsTheShareOfErasedSamples() throws {
        let p = try pipeline(p: 0.3)
        let n = 400
        let out = batch(p, images(n), ids: Array(0..<n), epoch: 1)
        let hit = (0..<n).filter { !erased(out, sample: $0).isEmpty }.count
        #expect(hit > 90 && hit < 150, "\(hit) of 400 erased at p = 0.3")
    }

    @Test func sameSampleEpochAndSeedEraseTheSameRectangleWhateverTheBatch() throws {
        let p = try pipeline(p: 1)
        let imgs = images(3)
        let forward = batch(p, imgs, ids: [4, 5, 6], epoch: 2)
        let alone = batch(p, Array(imgs[sample..<(2 * sample)]), ids: [5], epoch: 2)
        #expect(alone == Array(forward[sample..<(2 * sample)]))
        let positions = (0..<8).map { epoch in erased(batch(p, Array(imgs[0..<sample]), ids: [4], epoch: epoch), sample: 0) }
        #expect(Set(positions).count > 1, "the rectangle does not change with the epoch")
    }

    @Test func probabilityZeroAndEvaluationEraseNothing() throws {
        let imgs = images(20)
        let off = try pipeline(p: 0)
        let on = try pipeline(p: 1)
        let plain = batch(off, imgs, ids: Array(0..<20), augment: false)
        #expect(batch(off, imgs, ids: Array(0..<20)) == plain)
        #expect(batch(on, imgs, ids: Array(0..<20), augment: false) == plain)
        #expect(!plain.contains(0))
    }

    @Test func erasingKeepsTheOtherAugmentationsDraws() throws {
        // Erasing draws after crop and flip: with p = 0 enabled the crops and flips are as before.
        var c = DataConfig()
        c.augment.cropPadding = 2
        c.augment.hflip = true
        let without = try InputPipeline(config: c, imageShape: shape)
        var e = ErasingConfig()
        e.p = 0
        c.augment.erasing = e
        let withZero = try InputPipeline(config: c, imageShape: shape)
        let imgs = images(10)
        #expect(batch(without, imgs, ids: Array(0..<10), epoch: 4) == batch(withZero, imgs, ids: Array(0..<10), epoch: 4))
    }

    @Test func badErasingSettingsNameTheKey() throws {
        var c = DataConfig()
        var e = ErasingConfig()
        e.scale = [0.4, 0.2]
        c.augment.erasing = e
        #expect(throws: DatasetError.self) { try InputPipeline(config: c, imageShape: shape) }
        do { _ = try InputPipeline(config: c, imageShape: shape) } catch {
            #expect("\(error)".contains("data.augment.erasing.scale"))
        }
        e = ErasingConfig()
        e.ratio = [0, 2]
        c.augment.erasing = e
        do { _ = try InputPipeline(config: c, imageShape: shape); Issue.record("ratio 0 accepted") } catch {
            #expect("\(error)".contains("data.augment.erasing.ratio"))
        }
    }
}
