// The six pattern classes of the attribute benchmark, painted onto a garment's colour
// layer. Patterns come at random scale, phase, orientation and contrast, with 2x2
// supersampling so edges alias like a real low-resolution photo. Scales are chosen so a
// small CNN can still resolve them at 28x28 (stripe periods >= 4 px, plaid checks of 7 to
// 10 px, dots >= 2 px radius, flowers as distinct blobs), and inks keep a strong luma
// contrast against the garment: with StreetStyle-27k's frequencies plaid and spotted have
// only ~1,200 and ~500 training images, and a faint print that rare is never learned by a
// plainly trained CNN (docs/DATASETS.md). Coordinates are pixels; (0, 0) is the top-left
// corner.

import LoomData
import LoomKernels

/// Paints patterns into an `(H, W)` array of colours.
struct PatternPainter {
    let height: Int
    let width: Int
    /// Centroid and half-extent of the garment (from its mask), in pixels.
    let centreX: Double, centreY: Double
    let extent: Double

    /// Mixes `ink` into `layer` with per-pixel coverage `coverage(x, y)` in [0, 1] at
    /// `opacity`. Coverage is averaged over 4 subsamples per pixel.
    func paint(_ layer: inout [RGB], ink: RGB, opacity: Float, coverage: (Double, Double) -> Float) {
        for y in 0..<height {
            for x in 0..<width {
                var c: Float = 0
                for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                    c += coverage(Double(x) + ox, Double(y) + oy)
                }
                c *= 0.25 * opacity
                if c > 0 { layer[y * width + x] = RGB.mix(layer[y * width + x], ink, c) }
            }
        }
    }

    /// An ink that contrasts with `base`: a quarter of the time another palette colour at
    /// least 0.4 luma away (a few draws, then the fallback), otherwise the base made much
    /// darker (to 5-15 % of its value) or lighter (85-95 % of the way to white): a
    /// tone-on-tone print.
    func ink(for base: RGB, _ rng: inout KeyedRandom) -> RGB {
        if rng.nextDouble() < 0.25 {
            for _ in 0..<4 {
                let c = ColourPalette.shade(ColourPalette.randomSingle(&rng), &rng)
                if abs(c.luma - base.luma) >= 0.4 { return c }
            }
        }
        let k = Float(rng.uniform(0.05, 0.15))
        return base.luma > 0.45 ? base * k : RGB.mix(base, RGB(r: 1, g: 1, b: 1), 1 - k)
    }

    func paint(_ pattern: AttributeClasses.Pattern, on layer: inout [RGB], base: RGB, _ rng: inout KeyedRandom) {
        switch pattern {
        case .solid: break
        case .striped: striped(&layer, base: base, &rng)
        case .plaid: plaid(&layer, base: base, &rng)
        case .spotted: spotted(&layer, base: base, &rng)
        case .floral: floral(&layer, base: base, &rng)
        case .graphic: graphic(&layer, base: base, &rng)
        }
    }

    /// Parallel bands: period 4-7.5 px, duty 35-55 %, horizontal/vertical/diagonal +-8 deg.
    private func striped(_ layer: inout [RGB], base: RGB, _ rng: inout KeyedRandom) {
        let angle = ([0.0, 90, 45, 135][rng.nextInt(below: 4)] + rng.normal(0, 8)) * .pi / 180
        let period = rng.uniform(4, 7.5), duty = rng.uniform(0.35, 0.55), phase = rng.nextDouble()
        let ink = ink(for: base, &rng)
        let (c, s) = (cos(angle), sin(angle))
        paint(&layer, ink: ink, opacity: Float(rng.uniform(0.65, 1))) { x, y in
            Self.band(x * c + y * s, period: period, phase: phase, duty: duty)
        }
    }

    /// Two crossing band sets of 7-10 px period, each in its own ink (the second is painted
    /// over the first where they cross), sometimes with thin accent lines. Axis-aligned or
    /// diagonal.
    private func plaid(_ layer: inout [RGB], base: RGB, _ rng: inout KeyedRandom) {
        let angle = (rng.nextDouble() < 0.7 ? rng.normal(0, 6) : 45 + rng.normal(0, 6)) * .pi / 180
        let (c, s) = (cos(angle), sin(angle))
        let p1 = rng.uniform(7, 10), p2 = rng.uniform(7, 10)
        let d1 = rng.uniform(0.3, 0.45), d2 = rng.uniform(0.3, 0.45)
        let f1 = rng.nextDouble(), f2 = rng.nextDouble()
        let ink1 = ink(for: base, &rng)
        let opacity = Float(rng.uniform(0.9, 1))
        paint(&layer, ink: ink1, opacity: opacity) { x, y in
            Self.band(x * c + y * s, period: p1, phase: f1, duty: d1)
        }
        let crossInk = ink(for: base, &rng)
        paint(&layer, ink: crossInk, opacity: opacity) { x, y in
            Self.band(-x * s + y * c, period: p2, phase: f2, duty: d2)
        }
        if rng.nextDouble() < 0.5 {
            let ink2 = ink(for: base, &rng)
            let f3 = rng.nextDouble()
            paint(&layer, ink: ink2, opacity: Float(rng.uniform(0.4, 0.9))) { x, y in
                max(Self.band(x * c + y * s, period: p1, phase: f3, duty: 0.12),
                    Self.band(-x * s + y * c, period: p2, phase: f3, duty: 0.12))
            }
        }
    }

    /// Polka dots of radius 2-2.6 px on a staggered lattice with 6-7.5 px spacing, each dot
    /// moved at random by up to 45 % of the gap to its neighbours, so rows of dots do not
    /// line up into stripes.
    private func spotted(_ layer: inout [RGB], base: RGB, _ rng: inout KeyedRandom) {
        let spacing = rng.uniform(6, 7.5)
        let radius = min(spacing / 2.6, rng.uniform(2, 2.6))
        let jitter = (spacing - 2 * radius) * rng.uniform(0.25, 0.45)
        let (fx, fy) = (rng.uniform(0, spacing), rng.uniform(0, spacing))
        var centres: [(x: Double, y: Double)] = []
        var row = 0
        // Rows sqrt(3)/2 spacing apart, every other one shifted by half: a hexagonal lattice.
        for y in stride(from: fy - spacing, to: Double(height) + spacing, by: spacing * 0.87) {
            let shift = row % 2 == 0 ? 0 : spacing / 2
            for x in stride(from: fx - spacing + shift, to: Double(width) + spacing, by: spacing) {
                centres.append((x + rng.uniform(-jitter, jitter), y + rng.uniform(-jitter, jitter)))
            }
            row += 1
        }
        let ink = ink(for: base, &rng)
        let r2 = radius * radius
        paint(&layer, ink: ink, opacity: Float(rng.uniform(0.9, 1))) { x, y in
            centres.contains { ($0.x - x) * ($0.x - x) + ($0.y - y) * ($0.y - y) <= r2 } ? 1 : 0
        }
    }

    /// Scattered flowers of 4-6 petals around a contrasting centre, several colours:
    /// 4-8 flowers of radius 2.2-3.4 px over the whole garment (a print, not a single motif
    /// like `graphic`), each a distinct multi-coloured blob.
    private func floral(_ layer: inout [RGB], base: RGB, _ rng: inout KeyedRandom) {
        let count = 4 + rng.nextInt(below: 5)
        let opacity = Float(rng.uniform(0.8, 1))
        for _ in 0..<count {
            let cx = centreX + rng.uniform(-1, 1) * extent, cy = centreY + rng.uniform(-1, 1) * extent
            let r = rng.uniform(2.2, 3.4)
            let petals = 4 + rng.nextInt(below: 3)
            let turn = rng.uniform(0, 2 * .pi)
            let petalInk = ink(for: base, &rng)
            let centreInk = ink(for: petalInk, &rng)
            let centres = (0..<petals).map { k -> (Double, Double) in
                let a = turn + 2 * .pi * Double(k) / Double(petals)
                return (cx + r * cos(a), cy + r * sin(a))
            }
            let pr2 = (0.6 * r) * (0.6 * r)
            paint(&layer, ink: petalInk, opacity: opacity) { x, y in
                centres.contains { ($0.0 - x) * ($0.0 - x) + ($0.1 - y) * ($0.1 - y) <= pr2 } ? 1 : 0
            }
            let cr2 = (0.4 * r) * (0.4 * r)
            paint(&layer, ink: centreInk, opacity: opacity) { x, y in
                (cx - x) * (cx - x) + (cy - y) * (cy - y) <= cr2 ? 1 : 0
            }
        }
    }

    /// One or two printed shapes near the chest: disc, ring, box, triangle or bars.
    private func graphic(_ layer: inout [RGB], base: RGB, _ rng: inout KeyedRandom) {
        let shapes = 1 + rng.nextInt(below: 2)
        for _ in 0..<shapes {
            let cx = centreX + rng.uniform(-0.4, 0.4) * extent
            let cy = centreY + rng.uniform(-0.6, 0.2) * extent
            let size = rng.uniform(2.5, 5.5)
            let ink = ink(for: base, &rng)
            let opacity = Float(rng.uniform(0.7, 1))
            let kind = rng.nextInt(below: 5)
            let tilt = rng.uniform(-0.5, 0.5)
            let (c, s) = (cos(tilt), sin(tilt))
            paint(&layer, ink: ink, opacity: opacity) { x, y in
                let dx = x - cx, dy = y - cy
                let u = dx * c + dy * s, v = -dx * s + dy * c
                switch kind {
                case 0: return u * u + v * v <= size * size ? 1 : 0
                case 1:
                    let d = (u * u + v * v).squareRoot()
                    return d <= size && d >= size * 0.55 ? 1 : 0
                case 2: return abs(u) <= size && abs(v) <= size * 0.7 ? 1 : 0
                case 3: return v <= size * 0.8 && v >= -size && abs(u) <= (size * 0.8 - v) * 0.55 ? 1 : 0
                default:
                    let bar = ((u + size) / (size * 0.7)).rounded(.down)
                    return abs(v) <= size && abs(u) <= size && Int(bar) % 2 == 0 ? 1 : 0
                }
            }
        }
    }

    /// Square wave along `u`: 1 in the first `duty` fraction of each period, else 0.
    static func band(_ u: Double, period: Double, phase: Double, duty: Double) -> Float {
        let t = u / period + phase
        return t - t.rounded(.down) < duty ? 1 : 0
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
