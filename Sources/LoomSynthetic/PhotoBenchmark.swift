// The photo benchmark: the attribute benchmark's garments as small RGB "street photos",
// written as JPEG files with a StreetStyle-27k manifest, so that the whole real path (files,
// decoder, crop box, resize, HDF5) runs on data whose labels are known.
//
// Sample i (a pure function of (seed, i) and Fashion-MNIST train garment i; `first` starts
// the photos at garment `first`, so photo i is the same whichever range it is written in):
// - labels: colour and pattern drawn with StreetStyle-27k's frequencies, withheld at the
//   benchmark's rates (AttributeBenchmark.drawLabels, split "photos"); the category maps
//   onto StreetStyle's clothing_category where one fits (T-shirt/top -> T-shirt,
//   Pullover -> Sweater, Dress, Coat -> Outerwear, Shirt), else it is left unlabelled;
// - the grey garment is upscaled (bilinear) to 45-75 % of the photo height and rendered
//   with its colour and pattern at that size (GarmentRenderer: shading, illumination,
//   colour cast, grain, noise);
// - it is placed at a random position on a textured background (a low-saturation tint
//   kept at least 0.25 in value away from the garment, a gradient, two crossing
//   sinusoidal textures), then the whole photo gets a light level, a colour cast and
//   sensor noise;
// - the manifest's box is the garment's square with a 5-25 % margin on each side,
//   clamped to the photo; one photo in ten is stored rotated with EXIF orientation 6,
//   as phones do; JPEG quality 80-95, 4:2:0.
// Photos are (2S x 3S/2) for output size S, so the box is resized by about 0.8-1.2.

import Foundation
import LoomData
import LoomImage
import LoomKernels

public enum PhotoBenchmark {
    /// StreetStyle-27k names of the benchmark's colour and pattern classes (same order).
    static let colourNames = ["Black", "White", "More than 1 color", "Blue", "Gray", "Red", "Pink", "Green", "Yellow",
                              "Brown", "Purple", "Orange", "Cyan"]
    static let patternNames = ["Solid", "Graphics", "Striped", "Floral", "Plaid", "Spotted"]
    /// Fashion-MNIST category -> StreetStyle clothing_category ("" = unlabelled).
    static let categoryNames = ["T-shirt", "", "Sweater", "Dress", "Outerwear", "", "Shirt", "", "", ""]

    /// Writes `count` photos and `streetstyle27k.manifest` under `root` from the train split
    /// of the Fashion-MNIST dataset `source`, garments `first..<first + count`, for output size
    /// `size`. Returns the rows written.
    @discardableResult
    public static func generate(source: Dataset, root: String, first: Int = 0, count: Int, size: Int,
                                seed: UInt64 = 7) throws(DatasetError) -> Int {
        let split = try source.split("train")
        guard split.imageShape == ImageShape(height: 28, width: 28, channels: 1) else {
            throw .badLayout(file: source.path, object: "/train/images", reason: "expected Fashion-MNIST's 28x28x1 garments")
        }
        guard first >= 0, first < split.count, count > 0, count <= split.count - first, size >= 16 else {
            throw .invalidRequest(file: source.path, reason: "first \(first) must be in 0..<\(split.count), count \(count) in "
                                      + "1...\(max(0, split.count - first)) (the train garments from the first) and size \(size) at least 16")
        }
        let gray = try split.readImages(indices: Array(first..<(first + count)))
        let category = Array(try split.labels("category")[first..<(first + count)])
        var lines = [String](repeating: "", count: count)
        var failure: String?
        let lock = NSLock()
        lines.withUnsafeMutableBufferPointer { out in
            let out = UncheckedLines(base: out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: ProcessInfo.processInfo.activeProcessorCount) { t in
                let encoder = JPEGEncoder()
                var i = t
                while i < count {
                    do {
                        out.base[i] = try writeSample(first + i, gray: gray, offset: i * 784, category: Int(category[i]),
                                                      root: root, size: size, seed: seed, encoder: encoder)
                    } catch {
                        lock.lock(); failure = failure ?? "\(error)"; lock.unlock()
                    }
                    i += ProcessInfo.processInfo.activeProcessorCount
                }
            }
        }
        if let failure { throw .io(file: root, reason: failure) }
        let manifest = ([StreetStyleLayout.header.joined(separator: ",")] + lines).joined(separator: "\n") + "\n"
        let path = (root as NSString).appendingPathComponent(StreetStyleLayout.manifestName)
        do { try manifest.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw .io(file: path, reason: "cannot write the manifest: \(error)")
        }
        return count
    }

    /// Renders, encodes and writes photo `i` (garment `i`, at `offset` in `gray`); returns its
    /// manifest line.
    static func writeSample(_ i: Int, gray: [UInt8], offset: Int, category: Int, root: String, size: Int, seed: UInt64,
                            encoder: JPEGEncoder) throws -> String {
        let labels = AttributeBenchmark.drawLabels(seed: seed, split: "photos", index: i)
        var rng = KeyedRandom(seed: seed, purpose: .dataset, keys: AttributeBenchmark.sampleKey(split: "photos", index: i) + [2])
        let width = 2 * size, height = 3 * size / 2
        // Garment: upscale the grey image, render it at that size.
        let g = max(16, Int(rng.uniform(0.45, 0.75) * Double(height)))
        let big = upscale(gray, offset: offset, to: g)
        let garment = big.withUnsafeBufferPointer {
            GarmentRenderer(gray: $0.baseAddress!, height: g, width: g)
                .render(colour: AttributeClasses.Colour(rawValue: labels.colour)!,
                        pattern: AttributeClasses.Pattern(rawValue: labels.pattern)!, &rng)
        }
        let alpha = big.map { min(1, max(0, (Float($0) - 3) / 25)) }
        var lumaSum: Float = 0, weight: Float = 0
        for k in 0..<(g * g) where alpha[k] > 0.5 {
            lumaSum += (0.299 * Float(garment[3 * k]) + 0.587 * Float(garment[3 * k + 1]) + 0.114 * Float(garment[3 * k + 2])) / 255
            weight += 1
        }
        let luma = weight > 0 ? lumaSum / weight : 0.5
        // Background: a tint far enough in value from the garment, a gradient, two textures.
        var value = rng.uniform(0.1, 0.9)
        if abs(value - Double(luma)) < 0.25 { value = luma > 0.5 ? rng.uniform(0.05, max(0.06, Double(luma) - 0.3)) : rng.uniform(min(0.94, Double(luma) + 0.3), 0.95) }
        let tint = RGB(h: rng.uniform(0, 360), s: rng.uniform(0, 0.25), v: value)
        let gradient = (angle: rng.uniform(0, 2 * .pi), amount: Float(rng.uniform(-0.12, 0.12)))
        let textures = (0..<2).map { _ in (angle: rng.uniform(0, .pi), period: rng.uniform(5, 24), amount: Float(rng.uniform(0, 0.06)),
                                           phase: rng.uniform(0, 2 * .pi)) }
        let light = Float(rng.uniform(0.75, 1.15))
        let cast = (Float(rng.uniform(0.9, 1.1)), Float(rng.uniform(0.9, 1.1)), Float(rng.uniform(0.9, 1.1)))
        let noise = Float(rng.uniform(0.005, 0.03))
        let x0 = rng.nextInt(below: max(1, width - g + 1)), y0 = rng.nextInt(below: max(1, height - g + 1))
        var photo = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let u = Double(x) / Double(width) - 0.5, v = Double(y) / Double(height) - 0.5
                var shift = gradient.amount * Float(u * cos(gradient.angle) + v * sin(gradient.angle))
                for t in textures {
                    shift += t.amount * Float(sin(2 * .pi * (Double(x) * cos(t.angle) + Double(y) * sin(t.angle)) / t.period + t.phase))
                }
                var c = [tint.r + shift, tint.g + shift, tint.b + shift]
                let gx = x - x0, gy = y - y0
                if gx >= 0, gx < g, gy >= 0, gy < g {
                    let a = alpha[gy * g + gx]
                    for ch in 0..<3 { c[ch] = c[ch] * (1 - a) + Float(garment[(gy * g + gx) * 3 + ch]) / 255 * a }
                }
                let casts = [cast.0, cast.1, cast.2]
                for ch in 0..<3 {
                    let s = c[ch] * light * casts[ch] + noise * Float(rng.uniform(-1, 1) + rng.uniform(-1, 1))
                    photo[(y * width + x) * 3 + ch] = UInt8(min(255, max(0, (s * 255).rounded())))
                }
            }
        }
        // The box: the garment's square with a margin, clamped to the photo.
        let margin = { Int(rng.uniform(0.05, 0.25) * Double(g)) }
        let box = CropBox(x1: max(0, x0 - margin()), y1: max(0, y0 - margin()),
                          x2: min(width, x0 + g + margin()), y2: min(height, y0 + g + margin()))
        // One photo in ten stored rotated, with EXIF orientation 6 to display it upright.
        let rotated = rng.nextDouble() < 0.1
        let stored = rotated ? RGBImage(width: width, height: height, pixels: photo).oriented(8) : RGBImage(width: width, height: height, pixels: photo)
        let bytes = try encoder.encode(pixels: stored.pixels, width: stored.width, height: stored.height, channels: 3,
                                       quality: 80 + rng.nextInt(below: 16), subsampling: .s420, orientation: rotated ? 6 : 1)
        var f = Fingerprint()
        f.add(name: "photo \(seed) \(i)")
        let name = f.hex + String(format: "%08x", i) + ".jpg"
        let url = "https://s3.amazonaws.com/kmatzen/\(name)"
        let path = StreetStyleLayout.imagePath(root: root, url: url)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let colour = labels.colourWithheld ? "" : colourNames[labels.colour]
        let pattern = labels.patternWithheld ? "" : patternNames[labels.pattern]
        let fields: [String] = ["\(i + 1)", url, "2026-01-01 00:00:00+00", "1", "1", "0", "0",
                                "\(box.x1)", "\(box.y1)", "\(box.x2)", "\(box.y2)", "\(width)", "\(height)",
                                pattern, colour, "", "", "", "", "", categoryNames[category], "", "", "", ""]
        return fields.joined(separator: ",")
    }

    /// Bilinear upscale of the 28x28 image at `offset` of `gray` to `side` x `side`.
    static func upscale(_ gray: [UInt8], offset: Int, to side: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: side * side)
        let scale = 28.0 / Double(side)
        for y in 0..<side {
            let sy = max(0, min(27, (Double(y) + 0.5) * scale - 0.5))
            let y0 = Int(sy), y1 = min(27, y0 + 1), fy = sy - Double(y0)
            for x in 0..<side {
                let sx = max(0, min(27, (Double(x) + 0.5) * scale - 0.5))
                let x0 = Int(sx), x1 = min(27, x0 + 1), fx = sx - Double(x0)
                let p = { (yy: Int, xx: Int) in Double(gray[offset + yy * 28 + xx]) }
                let v = (p(y0, x0) * (1 - fx) + p(y0, x1) * fx) * (1 - fy) + (p(y1, x0) * (1 - fx) + p(y1, x1) * fx) * fy
                out[y * side + x] = UInt8(min(255, max(0, v.rounded())))
            }
        }
        return out
    }
}

private struct UncheckedLines: @unchecked Sendable {
    let base: UnsafeMutablePointer<String>
}
