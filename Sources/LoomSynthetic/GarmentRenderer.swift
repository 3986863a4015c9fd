// Composites one benchmark image: a textured, tinted background; the garment's own
// shading (from the grey Fashion-MNIST image) multiplied by its colour layer (base shade,
// or two shades split along a random line for `more-than-one`, then the pattern); a
// global colour cast and illumination; and per-pixel noise. Output `(H, W, 3)` uint8.

import LoomData
import LoomKernels

struct GarmentRenderer {
    let gray: UnsafePointer<UInt8>
    let height: Int
    let width: Int

    func render(colour: AttributeClasses.Colour, pattern: AttributeClasses.Pattern,
                _ rng: inout KeyedRandom) -> [UInt8] {
        let n = height * width
        // Garment mask and shading from the grey image. Fashion-MNIST backgrounds are 0.
        var alpha = [Float](repeating: 0, count: n)
        var maxGray: Float = 1
        var sx = 0.0, sy = 0.0, sw = 0.0
        for i in 0..<n {
            let g = Float(gray[i])
            maxGray = max(maxGray, g)
            alpha[i] = min(1, max(0, (g - 3) / 25))
            sw += Double(alpha[i]); sx += Double(alpha[i]) * Double(i % width); sy += Double(alpha[i]) * Double(i / width)
        }
        let cx = sw > 0 ? sx / sw + 0.5 : Double(width) / 2
        let cy = sw > 0 ? sy / sw + 0.5 : Double(height) / 2
        var spread = 0.0
        for i in 0..<n where alpha[i] > 0 {
            let dx = Double(i % width) + 0.5 - cx, dy = Double(i / width) + 0.5 - cy
            spread += Double(alpha[i]) * (dx * dx + dy * dy)
        }
        let extent = max(3, sw > 0 ? (spread / sw).squareRoot() : Double(width) / 4)

        // Colour layer: one shade, or two shades either side of a random line.
        let base: RGB
        var layer: [RGB]
        if colour == .multi {
            let a = ColourPalette.randomSingle(&rng)
            let b = ColourPalette.randomSingle(&rng, excluding: a)
            let ca = ColourPalette.shade(a, &rng), cb = ColourPalette.shade(b, &rng)
            let angle = rng.uniform(0, .pi)
            let offset = rng.uniform(-0.5, 0.5) * extent
            let (c, s) = (cos(angle), sin(angle))
            layer = (0..<n).map { i in
                let d = (Double(i % width) + 0.5 - cx) * c + (Double(i / width) + 0.5 - cy) * s
                return d < offset ? ca : cb
            }
            base = ca
        } else {
            base = ColourPalette.shade(colour, &rng)
            layer = Array(repeating: base, count: n)
        }
        PatternPainter(height: height, width: width, centreX: cx, centreY: cy, extent: extent)
            .paint(pattern, on: &layer, base: base, &rng)

        // Background: low-saturation tint, a linear gradient and a faint periodic texture.
        // Its value keeps >= 0.25 away from the garment's luma so the silhouette (the
        // category head's only cue) stays visible; the texture is faint and fine-grained so
        // it cannot be mistaken for a garment pattern.
        var bgValue = rng.uniform(0.08, 0.92)
        if abs(bgValue - Double(base.luma)) < 0.25 {
            bgValue = base.luma > 0.5 ? rng.uniform(0.05, max(0.06, Double(base.luma) - 0.3))
                                      : rng.uniform(min(0.94, Double(base.luma) + 0.3), 0.95)
        }
        let bg = RGB(h: rng.uniform(0, 360), s: rng.uniform(0, 0.15), v: bgValue)
        let gradAngle = rng.uniform(0, 2 * .pi), gradAmp = Float(rng.uniform(-0.08, 0.08))
        let texAngle = rng.uniform(0, .pi), texPeriod = rng.uniform(2, 3)
        let texAmp = Float(rng.uniform(0, 0.03)), texPhase = rng.uniform(0, 2 * .pi)
        let (gc, gs) = (cos(gradAngle), sin(gradAngle))
        let (tc, ts) = (cos(texAngle), sin(texAngle))

        // Scene: illumination, colour cast, fabric grain and sensor noise.
        let illumination = Float(rng.uniform(0.8, 1.12))
        let cast = RGB(r: Float(rng.uniform(0.88, 1.12)), g: Float(rng.uniform(0.88, 1.12)), b: Float(rng.uniform(0.88, 1.12)))
        let grain = Float(rng.uniform(0.01, 0.04))
        let noise = Float(rng.uniform(0.005, 0.025))

        var out = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<n {
            let x = Double(i % width) + 0.5, y = Double(i / width) + 0.5
            let shift = gradAmp * Float(((x - cx) * gc + (y - cy) * gs) / Double(width))
                + texAmp * Float(sin(2 * .pi * (x * tc + y * ts) / texPeriod + texPhase))
            let back = RGB(r: bg.r + shift, g: bg.g + shift, b: bg.b + shift)
            let shade = (0.62 + 0.38 * Float(gray[i]) / maxGray) * illumination
                * (1 + grain * Float(rng.uniform(-1, 1)))
            let cloth = layer[i] * shade
            let p = RGB.mix(back, cloth, alpha[i])
            let channels = [p.r * cast.r, p.g * cast.g, p.b * cast.b]
            for ch in 0..<3 {
                let v = channels[ch] + noise * Float(rng.uniform(-1, 1) + rng.uniform(-1, 1))
                out[i * 3 + ch] = UInt8(min(255, max(0, (v * 255).rounded())))
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
