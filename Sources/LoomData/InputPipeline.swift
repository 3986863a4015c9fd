// From stored pixels to model input. Images are stored uint8 `(N, H, W, C)`; the model
// takes float32 `(N, C, H, W)`:
//
//     x = pixel / 255                         in [0, 1]
//     x = augment(x)                          training only, keyed by (seed, epoch, sample id)
//     input = (x - mean[c]) / std[c]          as /preprocessing in checkpoints records
//
// Augmentation order: random crop after zero padding, horizontal flip, brightness add,
// contrast scale around the image mean, clamp to [0, 1] (as torchvision's ColorJitter),
// then, after normalisation, random erasing of one rectangle to 0 (the channel mean).
// Each sample's random draws come from `KeyedRandom(seed:, purpose: .augmentation,
// keys: [epoch, sampleID])` only, so a sample gets the same view whichever worker,
// thread or batch position processes it (ARCHITECTURE.md, invariant 1).

import Foundation
import LoomConfig
import LoomKernels

/// Turns uint8 `(N, H, W, C)` images into normalised float `(N, C, H, W)` model input.
public struct InputPipeline: Sendable {
    public let imageShape: ImageShape
    public let augmentation: AugmentConfig
    /// Per-channel mean and standard deviation in [0, 1] pixel units (length C).
    public let mean: [Float]
    public let std: [Float]

    /// - Throws: `DatasetError.badConfig` when `data.mean`/`data.std` have neither 0, 1 nor
    ///   C entries, a std is not positive, or augmentation amounts are negative.
    public init(config: DataConfig, imageShape: ImageShape) throws(DatasetError) {
        let c = imageShape.channels
        func perChannel(_ v: [Double], key: String, empty: Float) throws(DatasetError) -> [Float] {
            if v.isEmpty { return Array(repeating: empty, count: c) }
            if v.count == 1 { return Array(repeating: Float(v[0]), count: c) }
            guard v.count == c else {
                throw .badConfig(key: key, reason: "has \(v.count) values, the images have \(c) channels")
            }
            return v.map(Float.init)
        }
        mean = try perChannel(config.mean, key: "data.mean", empty: 0)
        std = try perChannel(config.std, key: "data.std", empty: 1)
        if let bad = std.first(where: { !($0 > 0) || !$0.isFinite }) {
            throw .badConfig(key: "data.std", reason: "value \(bad) is not a positive number")
        }
        let a = config.augment
        if a.cropPadding < 0 || a.cropPadding >= min(imageShape.height, imageShape.width) {
            throw .badConfig(key: "data.augment.crop_padding", reason: "\(a.cropPadding) is not in 0..<\(min(imageShape.height, imageShape.width))")
        }
        if !(a.brightness >= 0) { throw .badConfig(key: "data.augment.brightness", reason: "\(a.brightness) is negative") }
        if !(a.contrast >= 0 && a.contrast <= 1) {
            throw .badConfig(key: "data.augment.contrast", reason: "\(a.contrast) is not in [0, 1]")
        }
        if let e = a.erasing {
            if !(e.p >= 0 && e.p <= 1) { throw .badConfig(key: "data.augment.erasing.p", reason: "\(e.p) is not in [0, 1]") }
            if e.scale.count != 2 || !(e.scale[0] > 0 && e.scale[0] <= e.scale[1] && e.scale[1] <= 1) {
                throw .badConfig(key: "data.augment.erasing.scale", reason: "\(e.scale) is not [min, max] with 0 < min <= max <= 1")
            }
            if e.ratio.count != 2 || !(e.ratio[0] > 0 && e.ratio[0] <= e.ratio[1] && e.ratio[1].isFinite) {
                throw .badConfig(key: "data.augment.erasing.ratio", reason: "\(e.ratio) is not [min, max] with 0 < min <= max")
            }
        }
        self.imageShape = imageShape
        self.augmentation = a
    }

    /// Fills `output` `(count, C, H, W)` from `images` `(count, H, W, C)`.
    /// - Parameters:
    ///   - sampleIDs: the global sample index of each image (`count` entries): the
    ///     augmentation key, together with `epoch` and `seed`.
    ///   - augment: false for evaluation (only scaling and normalisation).
    public func makeBatch(images: UnsafePointer<UInt8>, count: Int, sampleIDs: [Int], epoch: Int,
                          seed: UInt64, augment: Bool, into output: UnsafeMutablePointer<Float>) {
        let n = imageShape.elementCount
        for i in 0..<count {
            var view = View()
            if augment && !augmentation.isIdentity {
                var rng = KeyedRandom(seed: seed, purpose: .augmentation,
                                      keys: [UInt64(bitPattern: Int64(epoch)), UInt64(bitPattern: Int64(sampleIDs[i]))])
                view = randomView(&rng)
            }
            render(images + i * n, into: output + i * n, view: view)
        }
    }

    /// Fills `output` `(count, C, H, W)` with one fixed test-time view of each image.
    public func makeTTAView(images: UnsafePointer<UInt8>, count: Int, transform: TTATransform,
                            into output: UnsafeMutablePointer<Float>) {
        var view = View()
        switch transform {
        case .identity: break
        case .hflip: view.flip = true
        case .shift(let dx, let dy): view.dx = dx; view.dy = dy
        }
        let n = imageShape.elementCount
        for i in 0..<count { render(images + i * n, into: output + i * n, view: view) }
    }

    /// The geometric and photometric parameters of one augmented view.
    struct View {
        var dx = 0, dy = 0
        var flip = false
        var brightness: Float = 0
        var contrast: Float = 1
        /// The erased rectangle: rows `eraseY..<eraseY + eraseH`, columns `eraseX..<eraseX + eraseW`
        /// of the output (eraseH = 0: nothing erased).
        var eraseY = 0, eraseX = 0, eraseH = 0, eraseW = 0
        var photometric: Bool { brightness != 0 || contrast != 1 }
    }

    /// Draws in a fixed order (crop, flip, brightness, contrast), only for enabled parts.
    func randomView(_ rng: inout KeyedRandom) -> View {
        var v = View()
        let p = augmentation.cropPadding
        if p > 0 {
            v.dy = rng.nextInt(below: 2 * p + 1) - p
            v.dx = rng.nextInt(below: 2 * p + 1) - p
        }
        if augmentation.hflip { v.flip = rng.nextDouble() < 0.5 }
        if augmentation.brightness > 0 {
            v.brightness = Float((rng.nextDouble() * 2 - 1) * augmentation.brightness)
        }
        if augmentation.contrast > 0 {
            v.contrast = Float(1 + (rng.nextDouble() * 2 - 1) * augmentation.contrast)
        }
        if let e = augmentation.erasing, e.p > 0, rng.nextDouble() < e.p {
            drawErasure(e, &rng, into: &v)
        }
        return v
    }

    /// Up to 10 tries for a rectangle of area fraction uniform in `scale` and aspect ratio
    /// h/w log-uniform in `ratio` that fits the image; none when every try is too big.
    func drawErasure(_ e: ErasingConfig, _ rng: inout KeyedRandom, into v: inout View) {
        let h = imageShape.height, w = imageShape.width
        let area = Double(h * w)
        let logLo = log(e.ratio[0]), logHi = log(e.ratio[1])
        for _ in 0..<10 {
            let target = area * (e.scale[0] + rng.nextDouble() * (e.scale[1] - e.scale[0]))
            let aspect = exp(logLo + rng.nextDouble() * (logHi - logLo))
            let eh = Int((target * aspect).squareRoot().rounded())
            let ew = Int((target / aspect).squareRoot().rounded())
            guard eh >= 1, ew >= 1, eh <= h, ew <= w else { continue }
            v.eraseY = rng.nextInt(below: h - eh + 1)
            v.eraseX = rng.nextInt(below: w - ew + 1)
            v.eraseH = eh
            v.eraseW = ew
            return
        }
    }

    /// One image: `src` (H, W, C) uint8 -> `dst` (C, H, W) float, through `view`.
    /// Output (y, x) reads source (y + dy, x' + dx) with x' = W-1-x when flipped; outside
    /// the source is the zero padding (black).
    func render(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<Float>, view: View) {
        let h = imageShape.height, w = imageShape.width, c = imageShape.channels
        let plane = h * w
        let scale: Float = 1.0 / 255.0
        for y in 0..<h {
            let sy = y + view.dy
            for x in 0..<w {
                let sx = (view.flip ? w - 1 - x : x) + view.dx
                let inside = sy >= 0 && sy < h && sx >= 0 && sx < w
                let s = src + (sy * w + sx) * c
                for ch in 0..<c {
                    dst[ch * plane + y * w + x] = inside ? Float(s[ch]) * scale : 0
                }
            }
        }
        let total = plane * c
        if view.photometric {
            var sum: Float = 0
            for k in 0..<total {
                dst[k] += view.brightness
                sum += dst[k]
            }
            let m = sum / Float(total)
            for k in 0..<total {
                dst[k] = min(1, max(0, (dst[k] - m) * view.contrast + m))
            }
        }
        for ch in 0..<c {
            let inv = 1 / std[ch], mu = mean[ch]
            let p = dst + ch * plane
            for k in 0..<plane { p[k] = (p[k] - mu) * inv }
            for y in view.eraseY..<(view.eraseY + view.eraseH) {
                for x in view.eraseX..<(view.eraseX + view.eraseW) { p[y * w + x] = 0 }
            }
        }
    }
}
