// Chart geometry: linear scales from data to pixels and "nice" axis ticks (1, 2 or 5 times
// a power of ten), so the charts need no library and no script.

import Foundation

/// A linear map from a data interval onto a pixel interval (which may run backwards, as
/// a y axis does).
struct LinearScale {
    var domain: (Double, Double)
    var range: (Double, Double)

    func callAsFunction(_ v: Double) -> Double {
        let span = domain.1 - domain.0
        let t = span == 0 ? 0.5 : (v - domain.0) / span
        return range.0 + t * (range.1 - range.0)
    }

    /// The domain of `values` (finite ones), widened so that it is never empty, optionally
    /// padded by `padding` of its span on each side.
    static func extent(_ values: [Double], padding: Double = 0, including: [Double] = []) -> (Double, Double) {
        let finite = (values + including).filter(\.isFinite)
        guard var lo = finite.min(), var hi = finite.max() else { return (0, 1) }
        if lo == hi {
            let d = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= d; hi += d
        }
        let pad = (hi - lo) * padding
        return (lo - pad, hi + pad)
    }
}

/// Tick positions over `lo...hi`: about `count` of them at multiples of a step of 1, 2 or
/// 5 times a power of ten. Returns the step as well (for label precision).
func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5) -> (ticks: [Double], step: Double) {
    guard lo.isFinite, hi.isFinite, hi > lo else { return ([lo], 1) }
    let raw = (hi - lo) / Double(max(count, 1))
    let magnitude = pow(10, floor(log10(raw)))
    let fraction = raw / magnitude
    // Round the step to 1, 2, 5 or 10 x the power of ten, whichever gives nearest `count` ticks
    // (the thresholds are the geometric means √2, √10, √50 between the choices).
    let step = (fraction >= 50.0.squareRoot() ? 10 : fraction >= 10.0.squareRoot() ? 5 : fraction >= 2.0.squareRoot() ? 2 : 1) * magnitude
    var ticks: [Double] = []
    var t = (lo / step).rounded(.up) * step
    while t <= hi + step * 1e-9 {
        ticks.append(abs(t) < step * 1e-9 ? 0 : t)
        t += step
    }
    return (ticks, step)
}

/// Colours of series and runs, in order (readable on white, distinct in print).
/// Twenty, so the 13 colour classes of the attribute benchmark get one each on the map.
let seriesColours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                     "#7f7f7f", "#bcbd22", "#393b79", "#ad494a", "#637939", "#e7ba52", "#7b4173", "#3182bd",
                     "#31a354", "#fd8d3c", "#756bb1", "#636363"]

func seriesColour(_ i: Int) -> String { seriesColours[i % seriesColours.count] }
