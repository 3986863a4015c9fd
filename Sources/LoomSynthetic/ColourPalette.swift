// Shades of each colour class of the attribute benchmark. A class is a region of HSV
// space, sampled with jitter, not a single RGB value: hues are drawn from a normal
// around the class hue, saturation and value from ranges that deliberately overlap with
// the neighbours (red/pink/purple/orange/brown share hue tails; black/gray/white share
// value ranges), so colour is learnable but not trivially separable.

import LoomData
import LoomKernels

/// A linear RGB colour, components in [0, 1].
struct RGB {
    var r: Float, g: Float, b: Float

    static func * (c: RGB, k: Float) -> RGB { RGB(r: c.r * k, g: c.g * k, b: c.b * k) }

    /// Linear interpolation: `a` at t = 0, `b` at t = 1.
    static func mix(_ a: RGB, _ b: RGB, _ t: Float) -> RGB {
        RGB(r: a.r + (b.r - a.r) * t, g: a.g + (b.g - a.g) * t, b: a.b + (b.b - a.b) * t)
    }

    /// From hue (degrees), saturation and value in [0, 1].
    init(h: Double, s: Double, v: Double) {
        let hh = (h.truncatingRemainder(dividingBy: 360) + 360).truncatingRemainder(dividingBy: 360) / 60
        let s = min(1, max(0, s)), v = min(1, max(0, v))
        let i = Int(hh), f = hh - Double(i)
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        let (r, g, b): (Double, Double, Double)
        switch i {
        case 0: (r, g, b) = (v, t, p)
        case 1: (r, g, b) = (q, v, p)
        case 2: (r, g, b) = (p, v, t)
        case 3: (r, g, b) = (p, q, v)
        case 4: (r, g, b) = (t, p, v)
        default: (r, g, b) = (v, p, q)
        }
        self.init(r: Float(r), g: Float(g), b: Float(b))
    }

    init(r: Float, g: Float, b: Float) { self.r = r; self.g = g; self.b = b }

    /// Rec. 601 luma, for choosing a lighter or darker ink.
    var luma: Float { 0.299 * r + 0.587 * g + 0.114 * b }
}

extension KeyedRandom {
    /// Uniform in [a, b).
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * nextDouble() }
    /// Normal with mean `mu` and standard deviation `sigma`.
    mutating func normal(_ mu: Double, _ sigma: Double) -> Double { mu + sigma * nextGaussian() }
    /// Index drawn with probability proportional to `weights`.
    mutating func categorical(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var u = nextDouble() * total
        for (i, w) in weights.enumerated() {
            if u < w { return i }
            u -= w
        }
        return weights.count - 1
    }
}

enum ColourPalette {
    /// One shade of a single-colour class (`multi` is rendered by the caller from two
    /// other classes; asked for here it returns a random other class's shade).
    static func shade(_ c: AttributeClasses.Colour, _ rng: inout KeyedRandom) -> RGB {
        switch c {
        case .black:  return RGB(h: rng.uniform(0, 360), s: rng.uniform(0, 0.35), v: rng.uniform(0.02, 0.25))
        case .white:  return RGB(h: rng.uniform(0, 360), s: rng.uniform(0, 0.12), v: rng.uniform(0.76, 1.0))
        case .gray:   return RGB(h: rng.uniform(0, 360), s: rng.uniform(0, 0.14), v: rng.uniform(0.22, 0.84))
        case .red:    return RGB(h: rng.normal(0, 9), s: rng.uniform(0.5, 1), v: rng.uniform(0.4, 0.95))
        case .pink:   return RGB(h: rng.normal(338, 14), s: rng.uniform(0.22, 0.62), v: rng.uniform(0.72, 1.0))
        case .purple: return RGB(h: rng.normal(288, 16), s: rng.uniform(0.3, 0.85), v: rng.uniform(0.3, 0.85))
        case .blue:   return RGB(h: rng.normal(220, 13), s: rng.uniform(0.4, 1), v: rng.uniform(0.3, 0.95))
        case .cyan:   return RGB(h: rng.normal(186, 9), s: rng.uniform(0.35, 0.9), v: rng.uniform(0.55, 1))
        case .green:  return RGB(h: rng.normal(125, 22), s: rng.uniform(0.3, 0.9), v: rng.uniform(0.28, 0.85))
        case .yellow: return RGB(h: rng.normal(53, 6), s: rng.uniform(0.5, 1), v: rng.uniform(0.78, 1))
        case .orange: return RGB(h: rng.normal(30, 6), s: rng.uniform(0.6, 1), v: rng.uniform(0.75, 1))
        case .brown:  return RGB(h: rng.normal(26, 9), s: rng.uniform(0.4, 0.85), v: rng.uniform(0.2, 0.55))
        case .multi:
            return shade(randomSingle(&rng), &rng)
        }
    }

    /// A single-colour class, uniformly (for inks, the parts of `multi`, backgrounds).
    static func randomSingle(_ rng: inout KeyedRandom, excluding: AttributeClasses.Colour? = nil) -> AttributeClasses.Colour {
        let singles = AttributeClasses.Colour.allCases.filter { $0 != .multi && $0 != excluding }
        return singles[rng.nextInt(below: singles.count)]
    }
}
