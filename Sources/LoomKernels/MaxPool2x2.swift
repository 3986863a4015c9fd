// Max pooling with 2x2 windows and stride 2, the CNN workhorse, four windows at a time:
// eight floats of the top and bottom input rows split into even and odd columns give the
// four corners of four windows; comparisons become lane selects instead of branches.
// Same results as the generic kernel (first maximum in scan order wins ties).

typealias Quad = SIMD4<Float>
typealias QuadIndex = SIMD4<Int32>

/// y (planes, OH, OW), argmax (planes, OH, OW) ← x (planes, H, W) for K = S = 2, P = 0.
func maxPool2x2Forward(y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                       x: UnsafePointer<Float>, planes: Int, shape s: Pool2DShape) {
    let (oh, ow, w) = (s.outHeight, s.outWidth, s.width)
    let lanes = QuadIndex(0, 2, 4, 6)
    for plane in 0..<planes {
        let src = x + plane * s.height * w
        for r in 0..<oh {
            let row0 = 2 * r * w
            let top = src + row0, bottom = top + w
            let dst = y + (plane * oh + r) * ow
            let idx = argmax + (plane * oh + r) * ow
            var c = 0
            while c + 4 <= ow {
                let t = loadLanes(top + 2 * c), u = loadLanes(bottom + 2 * c)
                let base = QuadIndex(repeating: Int32(row0 + 2 * c)) &+ lanes
                var best = t.evenHalf, at = base
                var mask = t.oddHalf .> best
                best.replace(with: t.oddHalf, where: mask)
                at.replace(with: base &+ 1, where: mask)
                mask = u.evenHalf .> best
                best.replace(with: u.evenHalf, where: mask)
                at.replace(with: base &+ Int32(w), where: mask)
                mask = u.oddHalf .> best
                best.replace(with: u.oddHalf, where: mask)
                at.replace(with: base &+ Int32(w + 1), where: mask)
                UnsafeMutableRawPointer(dst + c).storeBytes(of: best, as: Quad.self)
                UnsafeMutableRawPointer(idx + c).storeBytes(of: at, as: QuadIndex.self)
                c += 4
            }
            while c < ow {
                let i0 = row0 + 2 * c
                var best = src[i0], at = i0
                if src[i0 + 1] > best { best = src[i0 + 1]; at = i0 + 1 }
                if src[i0 + w] > best { best = src[i0 + w]; at = i0 + w }
                if src[i0 + w + 1] > best { best = src[i0 + w + 1]; at = i0 + w + 1 }
                dst[c] = best
                idx[c] = Int32(at)
                c += 1
            }
        }
    }
}

/// dx (planes, H, W) ← dy routed to each window's argmax; every dx element is written once
/// (H and W even, so the windows tile the plane and no clearing pass is needed).
func maxPool2x2Backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                        argmax: UnsafePointer<Int32>, planes: Int, shape s: Pool2DShape) {
    let (oh, ow, w) = (s.outHeight, s.outWidth, s.width)
    let lanes = QuadIndex(0, 2, 4, 6)
    for plane in 0..<planes {
        let d = dx + plane * s.height * w
        for r in 0..<oh {
            let row0 = 2 * r * w
            let top = d + row0, bottom = top + w
            let g0 = dy + (plane * oh + r) * ow
            let idx = argmax + (plane * oh + r) * ow
            var c = 0
            while c + 4 <= ow {
                let g = UnsafeRawPointer(g0 + c).loadUnaligned(as: Quad.self)
                let at = UnsafeRawPointer(idx + c).loadUnaligned(as: QuadIndex.self)
                let base = QuadIndex(repeating: Int32(row0 + 2 * c)) &+ lanes
                let zero = Quad()
                let a = zero.replacing(with: g, where: at .== base)
                let b = zero.replacing(with: g, where: at .== base &+ 1)
                let e = zero.replacing(with: g, where: at .== base &+ Int32(w))
                let f = zero.replacing(with: g, where: at .== base &+ Int32(w + 1))
                storeLanes(Lanes(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]), top + 2 * c)
                storeLanes(Lanes(e[0], f[0], e[1], f[1], e[2], f[2], e[3], f[3]), bottom + 2 * c)
                c += 4
            }
            while c < ow {
                let i0 = row0 + 2 * c, g = g0[c], at = Int(idx[c])
                d[i0] = at == i0 ? g : 0
                d[i0 + 1] = at == i0 + 1 ? g : 0
                d[i0 + w] = at == i0 + w ? g : 0
                d[i0 + w + 1] = at == i0 + w + 1 ? g : 0
                c += 1
            }
        }
    }
}
