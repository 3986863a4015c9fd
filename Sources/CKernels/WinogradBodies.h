// The bodies of the Winograd F(2×2, 3×3) convolution (Winograd.c), included once per
// instruction path with LOOM_SUFFIX naming the path, WG_PB1 and WG_PB2 the tiles of a
// register block of one and of two 16-channel units, and a `target` attribute on every
// function. Blocks choose only which outputs are computed together, never the order of an
// output's terms: the transforms are element-wise sequences of IEEE additions (the same on
// any vector width) and each M[ξ] one chain of fused multiply-adds in c order.

#define WG_CAT2(a, b) a##_##b
#define WG_CAT(a, b) WG_CAT2(a, b)
#define WG(name) WG_CAT(name, LOOM_SUFFIX)

/// Register blocks stay in registers only when their loops are unrolled.
#define WG_UNROLL _Pragma("clang loop unroll(full)")
#define WG_NO_MEMCPY __attribute__((no_builtin("memcpy"), no_builtin("memset")))

static inline v16f WG(load)(const float *p) { v16f v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void WG(store)(float *p, v16f v) { __builtin_memcpy(p, &v, sizeof v); }
static inline v16f WG(fma)(v16f a, v16f b, v16f c) { return __builtin_elementwise_fma(a, b, c); }

/// x in all 16 lanes, bit for bit.
static inline v16f WG(splat)(float x) {
    v16f v;
    for (int i = 0; i < 16; i++) v[i] = x;
    return v;
}

/// Level b of the butterfly transpose of m[16] (as ChannelConvBodies.h's), unrolled so that m
/// stays in registers (rolled, clang kept m on the stack: the copies ran at 1 float a cycle).
#define WG_EXPAND(...) __VA_ARGS__
#define WG_BUTTERFLY(b, lo, hi)                                                                     \
    WG_UNROLL for (int i = 0; i < 16; i++) {                                                        \
        if (i & b) continue;                                                                        \
        v16f x = m[i], y = m[i + b];                                                                \
        m[i] = __builtin_shufflevector(x, y, WG_EXPAND lo);                                         \
        m[i + b] = __builtin_shufflevector(x, y, WG_EXPAND hi);                                     \
    }

/// m[i][j] ↔ m[j][i].
static inline void WG(transpose16)(v16f m[16]) {
    WG_BUTTERFLY(8, (0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
                 (8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
    WG_BUTTERFLY(4, (0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27),
                 (4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31))
    WG_BUTTERFLY(2, (0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29),
                 (2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31))
    WG_BUTTERFLY(1, (0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30),
                 (1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31))
}

/// U (16, units, C, 16) of the pass's weights (Winograd.c), 16 output
/// channels at a time: the nine taps of 16 filters as vectors, G g Gᵀ on them.
static WG_NO_MEMCPY void WG(pack_weights)(float *u_pack, const float *weight, const struct wg_geometry *g,
                                          int flipped) {
    const float *end = weight + g->oc * g->c * 9;
    for (long u = 0; u < g->units; u++) {
        long lanes = g->oc - 16 * u < 16 ? g->oc - 16 * u : 16;
        for (long c = 0; c < g->c; c++) {
            v16f f[9], q[4][3], m[16];
            // Lane l's nine taps are 9 floats in a row (filter 16u + l of input channel c, or
            // flipped, of c's row of the transposed weights): 16 floats from each through one
            // transpose, whose first nine rows are the taps (in reverse when flipped).
            const float *first = flipped ? weight + (c * g->oc + 16 * u) * 9 : weight + (16 * u * g->c + c) * 9;
            long stride = flipped ? 9 : g->c * 9;
            for (long l = 0; l < 16; l++) {
                const float *row = first + l * stride;
                if (l >= lanes) m[l] = WG(splat)(0.0f);
                else if (row + 16 <= end) m[l] = WG(load)(row);
                else {
                    float t[16] = {0};
                    for (int k = 0; k < 9; k++) t[k] = row[k];
                    m[l] = WG(load)(t);
                }
            }
            WG(transpose16)(m);
            for (int k = 0; k < 9; k++) f[k] = m[flipped ? 8 - k : k];
            v16f half = WG(splat)(0.5f);
            for (int k = 0; k < 3; k++) {
                q[0][k] = f[k];
                q[1][k] = ((f[k] + f[3 + k]) + f[6 + k]) * half;
                q[2][k] = ((f[k] - f[3 + k]) + f[6 + k]) * half;
                q[3][k] = f[6 + k];
            }
            for (int i = 0; i < 4; i++) {
                float *dst = u_pack + ((4 * i * g->units + u) * g->c + c) * 16;
                long step = g->units * g->c * 16;
                WG(store)(dst, q[i][0]);
                WG(store)(dst + step, ((q[i][0] + q[i][1]) + q[i][2]) * half);
                WG(store)(dst + 2 * step, ((q[i][0] - q[i][1]) + q[i][2]) * half);
                WG(store)(dst + 3 * step, q[i][2]);
            }
        }
    }
}

/// x (N, C, H, W) into the zero-padded channel-last copy (N, hp, wp, cp): the border zeroed,
/// then 16 channels × 16 pixels through one transpose (channels past C as zeros). The pixels
/// run in plane order across rows, so that a small plane (7×7, 4×4) fills the transpose's
/// 16 lanes instead of one row's 7 or 4.
static WG_NO_MEMCPY void WG(load_padded)(float *xp, const float *x, size_t batch, const struct wg_geometry *g) {
    long cp = g->cp, wp = g->wp, w = g->w, plane = g->h * g->w;
    const float *end = x + batch * (size_t)(g->c * plane);
    for (size_t n = 0; n < batch; n++) {
        float *image = xp + (long)n * g->hp * wp * cp;
        memset(image, 0, (size_t)(wp * cp) * sizeof(float));
        memset(image + (g->h + 1) * wp * cp, 0, (size_t)((g->hp - g->h - 1) * wp * cp) * sizeof(float));
        for (long iy = 0; iy < g->h; iy++) {
            float *row = image + (iy + 1) * wp * cp;
            memset(row, 0, (size_t)cp * sizeof(float));
            memset(row + (g->w + 1) * cp, 0, (size_t)((wp - g->w - 1) * cp) * sizeof(float));
        }
        for (long k = 0; k < g->cunits; k++) {
            long lanes = g->c - 16 * k < 16 ? g->c - 16 * k : 16;
            const float *src = x + ((long)n * g->c + 16 * k) * plane;
            long iy = 0, ix = 0;  // of pixel q
            for (long q = 0; q < plane; q += 16) {
                long cnt = plane - q < 16 ? plane - q : 16;
                v16f m[16];
                for (int j = 0; j < 16; j++) {
                    // A plane's last pixels are read 16 at a time while that stays inside x
                    // (the lanes past the plane are never stored).
                    if (j >= lanes) m[j] = WG(splat)(0.0f);
                    else if (src + j * plane + q + 16 <= end) m[j] = WG(load)(src + j * plane + q);
                    else {
                        float t[16] = {0};
                        for (long i = 0; i < cnt; i++) t[i] = src[j * plane + q + i];
                        m[j] = WG(load)(t);
                    }
                }
                WG(transpose16)(m);
                for (long i = 0; i < cnt; i++) {
                    WG(store)(image + ((iy + 1) * wp + ix + 1) * cp + 16 * k, m[i]);
                    if (++ix == w) ix = 0, iy++;
                }
            }
        }
    }
}

/// V (16, tiles of the chunk, vp) of tiles first .. first + count − 1 (global indices) from
/// the padded channel-last copy: per 16 channels, V = Bᵀ d B on vectors (wg_input_order).
static WG_NO_MEMCPY void WG(input_transform)(float *v, const float *xp, const struct wg_geometry *g, long first,
                                             long count) {
    for (long t = 0; t < count; t++) {
        long n = (first + t) / g->tiles, r = (first + t) % g->tiles;
        const float *patch = xp + (n * g->hp * g->wp + 2 * (r / g->tx) * g->wp + 2 * (r % g->tx)) * g->cp;
        float *dst = v + t * g->vp;
        for (long k = 0; k < g->cunits; k++) {
            v16f d[4][4], e[4][4];
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) d[i][j] = WG(load)(patch + (i * g->wp + j) * g->cp + 16 * k);
            }
            // Bᵀ d: rows (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
            for (int j = 0; j < 4; j++) {
                e[0][j] = d[0][j] - d[2][j];
                e[1][j] = d[1][j] + d[2][j];
                e[2][j] = d[2][j] - d[1][j];
                e[3][j] = d[1][j] - d[3][j];
            }
            // (Bᵀ d) B: the same combination of the columns.
            for (int i = 0; i < 4; i++) {
                float *row = dst + 4 * i * g->vs + 16 * k;
                WG(store)(row, e[i][0] - e[i][2]);
                WG(store)(row + g->vs, e[i][1] + e[i][2]);
                WG(store)(row + 2 * g->vs, e[i][2] - e[i][1]);
                WG(store)(row + 3 * g->vs, e[i][1] - e[i][3]);
            }
        }
    }
}

/// Aᵀ m A for 16 lanes: out[0..3] = outputs (0, 0), (0, 1), (1, 0), (1, 1) of the tile.
static inline void WG(output_transform)(v16f out[4], const v16f m[16]) {
    v16f r[2][4];
    // Aᵀ m: rows ((m0 + m1) + m2, (m1 − m2) − m3).
    for (int j = 0; j < 4; j++) {
        r[0][j] = (m[j] + m[4 + j]) + m[8 + j];
        r[1][j] = (m[4 + j] - m[8 + j]) - m[12 + j];
    }
    for (int i = 0; i < 2; i++) {
        out[2 * i] = (r[i][0] + r[i][1]) + r[i][2];
        out[2 * i + 1] = (r[i][1] - r[i][2]) - r[i][3];
    }
}

/// Writes the tile's four outputs of 16 channels from unit u, + bias when there is one, into
/// the channel-last staging copy of y (N, 2·ty, 2·tx, units·16).
static WG_NO_MEMCPY void WG(write_tile)(float *ys, const struct wg_geometry *g, long tile, long u, const v16f m[16],
                                        const float *bias) {
    v16f out[4];
    WG(output_transform)(out, m);
    if (bias) {
        v16f b = WG(load)(bias + 16 * u);
        for (int q = 0; q < 4; q++) out[q] = out[q] + b;
    }
    long n = tile / g->tiles, r = tile % g->tiles, oy = 2 * (r / g->tx), ox = 2 * (r % g->tx);
    long ocp = 16 * g->units;
    float *dst = ys + ((n * 2 * g->ty + oy) * 2 * g->tx + ox) * ocp + 16 * u;
    WG(store)(dst, out[0]);
    WG(store)(dst + ocp, out[1]);
    WG(store)(dst + 2 * g->tx * ocp, out[2]);
    WG(store)(dst + (2 * g->tx + 1) * ocp, out[3]);
}

/// y (N, OC, H, W) from the staging copy (N, 2·ty, 2·tx, units·16): 16 pixels × 16 channels
/// through one transpose, the pixels in plane order across rows (as `load_padded`). The
/// staging copy has room for 16 pixels past its end.
static WG_NO_MEMCPY void WG(store_output)(float *y, const float *ys, size_t batch, const struct wg_geometry *g) {
    long ocp = 16 * g->units, plane = g->h * g->w, w = g->w, sw = 2 * g->tx;
    for (size_t n = 0; n < batch; n++) {
        const float *image = ys + (long)n * 2 * g->ty * sw * ocp;
        for (long k = 0; k < g->units; k++) {
            long lanes = g->oc - 16 * k < 16 ? g->oc - 16 * k : 16;
            float *dst = y + ((long)n * g->oc + 16 * k) * plane;
            long iy = 0, ix = 0;  // of pixel q
            for (long q = 0; q < plane; q += 16) {
                long cnt = plane - q < 16 ? plane - q : 16;
                v16f m[16];
                for (long i = 0; i < 16; i++) {
                    m[i] = WG(load)(image + (iy * sw + ix) * ocp + 16 * k);
                    if (i + 1 < cnt && ++ix == w) ix = 0, iy++;
                }
                if (++ix == w) ix = 0, iy++;
                WG(transpose16)(m);
                if (cnt == 16) {
                    for (long j = 0; j < lanes; j++) WG(store)(dst + j * plane + q, m[j]);
                } else {
                    for (long j = 0; j < lanes; j++) {
                        for (long i = 0; i < cnt; i++) dst[j * plane + q + i] = m[j][i];
                    }
                }
            }
        }
    }
}

/// OCV units of 16 output channels × PB tiles (chunk-local t0 .. t0 + PB − 1, global first + t;
/// only the first `count` are written): for each ξ, acc = 0, then + U[ξ, o, c]·V[t, ξ, c] for
/// c in order; the 16 sums of a tile and unit go through the output transform into y.
#define WG_BLOCK(OCV, PB)                                                                                  \
    static WG_NO_MEMCPY void WG(block_##OCV)(float *y, const float *u_pack, const float *v, long t0, long count,  \
                                             long first, long u0, const struct wg_geometry *g,               \
                                             const float *bias, float *tmp) {                                 \
        const float *vx[PB];                                                                               \
        for (int j = 0; j < PB; j++) vx[j] = v + (t0 + (j < count ? j : count - 1)) * g->vp;        \
        for (int xi = 0; xi < 16; xi++) {                                                                  \
            v16f acc[OCV][PB];                                                                             \
            for (int u = 0; u < OCV; u++) {                                                                \
                for (int j = 0; j < PB; j++) acc[u][j] = WG(splat)(0.0f);                                  \
            }                                                                                              \
            const float *w = u_pack + (xi * g->units + u0) * g->c * 16;                                    \
            long vo = xi * g->vs;                                                                          \
            for (long c = 0; c < g->c; c++) {                                                              \
                v16f wv[OCV];                                                                              \
                WG_UNROLL for (int u = 0; u < OCV; u++) wv[u] = WG(load)(w + (u * g->c + c) * 16);         \
                WG_UNROLL for (int j = 0; j < PB; j++) {                                                   \
                    v16f xv = WG(splat)(vx[j][vo + c]);                                                    \
                    WG_UNROLL for (int u = 0; u < OCV; u++) acc[u][j] = WG(fma)(wv[u], xv, acc[u][j]);     \
                }                                                                                          \
            }                                                                                              \
            for (int u = 0; u < OCV; u++) {                                                                \
                for (int j = 0; j < PB; j++) WG(store)(tmp + ((u * PB + j) * 16 + xi) * 16, acc[u][j]);    \
            }                                                                                              \
        }                                                                                                  \
        for (int u = 0; u < OCV; u++) {                                                                    \
            for (int j = 0; j < PB && j < count; j++) {                                                    \
                v16f m[16];                                                                                \
                for (int xi = 0; xi < 16; xi++) m[xi] = WG(load)(tmp + ((u * PB + j) * 16 + xi) * 16);     \
                WG(write_tile)(y, g, first + t0 + j, u0 + u, m, bias);                                     \
            }                                                                                              \
        }                                                                                                  \
    }

WG_BLOCK(1, WG_PB1)
WG_BLOCK(2, WG_PB2)

/// The products and output transforms of a chunk of `count` tiles starting at global tile
/// `first`, whose V the chunk holds: every unit pair (then a last single unit) over every
/// block of tiles.
static void WG(multiply_chunk)(float *ys, const float *u_pack, const float *v, long first, long count,
                               const struct wg_geometry *g, const float *bias, float *tmp) {
    long u0 = 0;
    for (; u0 + 2 <= g->units; u0 += 2) {
        for (long t = 0; t < count; t += WG_PB2) {
            WG(block_2)(ys, u_pack, v, t, count - t < WG_PB2 ? count - t : WG_PB2, first, u0, g, bias, tmp);
        }
    }
    for (; u0 < g->units; u0++) {
        for (long t = 0; t < count; t += WG_PB1) {
            WG(block_1)(ys, u_pack, v, t, count - t < WG_PB1 ? count - t : WG_PB1, first, u0, g, bias, tmp);
        }
    }
}
