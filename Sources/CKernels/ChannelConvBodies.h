// The bodies of the channel-vectorised direct convolution (ChannelConvKernels.c), included
// once per instruction path with LOOM_SUFFIX naming the path, CC_OCV the 16-channel units of
// a register block, CC_PB the output pixels of a forward block and CC_TB the weight rows of a
// weight-gradient block on that path, and a `target` attribute on every function. Blocks
// choose only which outputs are computed together, never the order of an output's terms.

#define CC_CAT2(a, b) a##_##b
#define CC_CAT(a, b) CC_CAT2(a, b)
#define CC(name) CC_CAT(name, LOOM_SUFFIX)

#define CC_NO_MEMCPY __attribute__((no_builtin("memcpy"), no_builtin("memset")))

static inline v16f CC(load)(const float *p) { v16f v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void CC(store)(float *p, v16f v) { __builtin_memcpy(p, &v, sizeof v); }
static inline v16f CC(fma)(v16f a, v16f b, v16f c) { return __builtin_elementwise_fma(a, b, c); }

/// x in all 16 lanes, bit for bit.
static inline v16f CC(splat)(float x) {
    v16f v;
    for (int i = 0; i < 16; i++) v[i] = x;
    return v;
}

/// Level b of the butterfly transpose of m[16]: for i with bit b clear, row i's columns j
/// with bit b set trade places with row (i + b)'s columns j − b. `lo` and `hi` are the
/// shuffle indices of the new rows i and i + b from (row i, row i + b).
#define CC_EXPAND(...) __VA_ARGS__
#define CC_BUTTERFLY(b, lo, hi)                                                                     \
    for (int i = 0; i < 16; i++) {                                                                  \
        if (i & b) continue;                                                                        \
        v16f x = m[i], y = m[i + b];                                                                \
        m[i] = __builtin_shufflevector(x, y, CC_EXPAND lo);                                         \
        m[i + b] = __builtin_shufflevector(x, y, CC_EXPAND hi);                                     \
    }

/// m[i][j] ↔ m[j][i], in registers.
static inline void CC(transpose16_registers)(v16f m[16]) {
    CC_BUTTERFLY(8, (0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
                 (8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
    CC_BUTTERFLY(4, (0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27),
                 (4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31))
    CC_BUTTERFLY(2, (0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29),
                 (2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31))
    CC_BUTTERFLY(1, (0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30),
                 (1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31))
}

/// dst[i·ds + j] = src[j·ss + i] for a 16 × 16 block (16 rows of src become 16 columns).
static inline CC_NO_MEMCPY void CC(transpose16)(float *dst, long ds, const float *src, long ss) {
    v16f m[16];
    for (int j = 0; j < 16; j++) m[j] = CC(load)(src + j * ss);
    CC(transpose16_registers)(m);
    for (int i = 0; i < 16; i++) CC(store)(dst + i * ds, m[i]);
}

/// Unit u (output channels 16u to 16u + 15) of a matrix m (OC, rows) ↔ its (rows, 16) copy v,
/// the lanes past OC left alone: `into` 1 fills v from m, 0 writes v back to m. 16 × 16
/// blocks through registers, the edges element by element.
static CC_NO_MEMCPY void CC(transpose_unit)(float *v, float *m, long u, long oc, long rows, int into) {
    long lanes = oc - u * 16 < 16 ? oc - u * 16 : 16;
    float *mu = m + u * 16 * rows;
    long r = 0;
    if (lanes == 16) {
        for (; r + 16 <= rows; r += 16) {
            if (into) CC(transpose16)(v + r * 16, 16, mu + r, rows);
            else CC(transpose16)(mu + r, rows, v + r * 16, 16);
        }
    }
    for (; r < rows; r++) {
        for (long l = lanes; into && l < 16; l++) v[r * 16 + l] = 0;
        for (long l = 0; l < lanes; l++) {
            if (into) v[r * 16 + l] = mu[l * rows + r];
            else mu[l * rows + r] = v[r * 16 + l];
        }
    }
}

/// Whether the n floats at p are all +0 (every bit clear): a gradient that has not been
/// added to yet. Stops at the first 64 bytes that are not.
static inline int CC(all_zero)(const float *p, long n) {
    typedef unsigned v16u __attribute__((vector_size(64)));
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        v16u v;
        __builtin_memcpy(&v, p + i, sizeof v);
        unsigned any = 0;
        for (int l = 0; l < 16; l++) any |= v[l];
        if (any) return 0;
    }
    for (; i < n; i++) {
        unsigned b;
        __builtin_memcpy(&b, p + i, sizeof b);
        if (b) return 0;
    }
    return 1;
}

/// The weights of unit u packed into v (rows, 16) from the pass's source: its (OC, C, k, k)
/// weights, or flipped, the (C, OC, k, k) weights of the convolution this one transposes read
/// flipped in (ky, kx), each channel c's 16 × k² block backwards.
static CC_NO_MEMCPY void CC(pack_unit)(float *v, const struct cc_pass *ps, long u) {
    if (!ps->flipped) {
        CC(transpose_unit)(v, (float *)ps->source, u, ps->oc, ps->rows, 1);
        return;
    }
    long lanes = ps->oc - u * 16 < 16 ? ps->oc - u * 16 : 16, taps = ps->taps;
    for (long c = 0; c < ps->rows / taps; c++) {
        for (long t = 0; t < taps; t++, v += 16) {
            for (long l = lanes; l < 16; l++) v[l] = 0;
            for (long l = 0; l < lanes; l++) v[l] = ps->source[(c * ps->oc + u * 16 + l) * taps + (taps - 1 - t)];
        }
    }
}

/// Images x (N, C, H, W) into a zero-padded, channel-last copy (N, rows, wp, cs), cs ≥ C
/// floats per pixel, whose image (y, x) lands at row y + top, column x + left; the padding is
/// 0 from the caller's memset. Groups of 16 channels go 16 pixels at a time (in plane order
/// across rows) through one transpose; the channels past the last whole group one by one.
static CC_NO_MEMCPY void CC(load_padded)(float *xp, const float *x, size_t batch, long c, long cs, long h, long w,
                                         long top, long left, long rows, long wp) {
    long plane = h * w, whole = c / 16 * 16;
    const float *end = x + batch * (size_t)(c * plane);
    for (size_t n = 0; n < batch; n++) {
        float *image = xp + (long)n * rows * wp * cs;
        for (long c0 = 0; c0 < whole; c0 += 16) {
            const float *src = x + ((long)n * c + c0) * plane;
            float *dst = image + (top * wp + left) * cs + c0;
            long iy = 0, ix = 0;  // of pixel q
            for (long q = 0; q < plane; q += 16) {
                long cnt = plane - q < 16 ? plane - q : 16;
                v16f m[16];
                for (int j = 0; j < 16; j++) {
                    // The last pixels are read 16 at a time while that stays inside x.
                    if (src + j * plane + q + 16 <= end) m[j] = CC(load)(src + j * plane + q);
                    else {
                        float t[16] = {0};
                        for (long i = 0; i < cnt; i++) t[i] = src[j * plane + q + i];
                        m[j] = CC(load)(t);
                    }
                }
                CC(transpose16_registers)(m);
                for (long i = 0; i < cnt; i++) {
                    CC(store)(dst + (iy * wp + ix) * cs, m[i]);
                    if (++ix == w) ix = 0, iy++;
                }
            }
        }
        for (long ci = whole; ci < c; ci++) {
            const float *src = x + ((long)n * c + ci) * h * w;
            float *dst = image + (top * wp + left) * cs + ci;
            for (long iy = 0; iy < h; iy++) {
                for (long ix = 0; ix < w; ix++) dst[(iy * wp + ix) * cs] = src[iy * w + ix];
            }
        }
    }
}

// MARK: - Forward

/// OCV units of 16 output channels × CC_PB output pixels: acc[u][j] = init (the bias, the
/// same for every pixel when `init_stride` is 0, or a pixel's partial sums), then
/// + w[r]·x[pixel j, row r] for the rows r in order. `w` is packed (units, rows, 16) from the
/// first of the rows to run; pixel j reads the padded input at xp + poff[j] + roff[r].
/// Writes dst (CC_PB, CC_OCV·16), which may be `init` itself.
#define CC_FORWARD_BLOCK(OCV)                                                                           \
    static inline void CC(forward_block_##OCV)(float *dst, const float *w, long unit_stride, long rows,  \
                                               const long *roff, const float *xp, const long *poff,      \
                                               const float *init, long init_stride) {                   \
        v16f acc[OCV][CC_PB];                                                                            \
        for (int u = 0; u < OCV; u++) {                                                                  \
            for (int j = 0; j < CC_PB; j++) acc[u][j] = CC(load)(init + j * init_stride + 16 * u);        \
        }                                                                                                \
        const float *px[CC_PB];                                                                          \
        for (int j = 0; j < CC_PB; j++) px[j] = xp + poff[j];                                            \
        for (long r = 0; r < rows; r++) {                                                                \
            long ro = roff[r];                                                                           \
            v16f wv[OCV];                                                                                \
            for (int u = 0; u < OCV; u++) wv[u] = CC(load)(w + u * unit_stride + 16 * r);                \
            for (int j = 0; j < CC_PB; j++) {                                                            \
                v16f xv = CC(splat)(px[j][ro]);                                                          \
                for (int u = 0; u < OCV; u++) acc[u][j] = CC(fma)(wv[u], xv, acc[u][j]);                 \
            }                                                                                            \
        }                                                                                                \
        for (int j = 0; j < CC_PB; j++) {                                                                \
            for (int u = 0; u < OCV; u++) CC(store)(dst + j * 16 * CC_OCV + 16 * u, acc[u][j]);          \
        }                                                                                                \
    }

CC_FORWARD_BLOCK(1)
#if CC_OCV > 1
CC_FORWARD_BLOCK(2)
#endif

/// The forward block over a list of rows (cc_class): acc[u][j] = init, then + w[rw[i]]·x[pixel
/// j, ro[i]] for i < rows in order, CC_PBI pixels. The same chain as CC_FORWARD_BLOCK's without
/// the rows a class skips.
#define CC_FORWARD_IBLOCK(OCV)                                                                          \
    static inline void CC(forward_iblock_##OCV)(float *dst, const float *w, long unit_stride, long rows, \
                                                const long *rw, const long *ro, const float *xp,         \
                                                const long *poff, const float *init, long init_stride) {   \
        v16f acc[OCV][CC_PBI];                                                                           \
        for (int u = 0; u < OCV; u++) {                                                                  \
            for (int j = 0; j < CC_PBI; j++) acc[u][j] = CC(load)(init + j * init_stride + 16 * u);       \
        }                                                                                                \
        const float *px[CC_PBI];                                                                         \
        for (int j = 0; j < CC_PBI; j++) px[j] = xp + poff[j];                                           \
        for (long i = 0; i < rows; i++) {                                                                \
            long xo = ro[i];                                                                             \
            const float *wr = w + rw[i];                                                                 \
            v16f wv[OCV];                                                                                \
            for (int u = 0; u < OCV; u++) wv[u] = CC(load)(wr + u * unit_stride);                        \
            for (int j = 0; j < CC_PBI; j++) {                                                           \
                v16f xv = CC(splat)(px[j][xo]);                                                          \
                for (int u = 0; u < OCV; u++) acc[u][j] = CC(fma)(wv[u], xv, acc[u][j]);                 \
            }                                                                                            \
        }                                                                                                \
        for (int j = 0; j < CC_PBI; j++) {                                                               \
            for (int u = 0; u < OCV; u++) CC(store)(dst + j * 16 * CC_OCV + 16 * u, acc[u][j]);          \
        }                                                                                                \
    }

CC_FORWARD_IBLOCK(1)
#if CC_OCV > 1
CC_FORWARD_IBLOCK(2)
#endif

/// run_pass for a pass with pixel classes: per pair of units, per class, the class's rows
/// (in chunks as run_pass's) over the class's pixels, CC_PBI at a time. Every output sums the
/// terms run_pass gives it, in the same order, less those w·0 whose input is padding.
static CC_NO_MEMCPY void CC(run_classes)(const struct cc_pass *ps, float *tmp) {
    long unit_stride = ps->rows * 16;
    long poff[CC_PBI];
    for (long u0 = 0; u0 < ps->units; u0 += CC_OCV) {
        long ocv = ps->units - u0 < CC_OCV ? ps->units - u0 : CC_OCV;
        const float *w = ps->wpack + u0 * unit_stride, *b = ps->bpack + u0 * 16;
        if (ps->source) {
            for (long u = 0; u < ocv; u++) CC(pack_unit)(ps->wpack + u * unit_stride, ps, u0 + u);
            w = ps->wpack;
        }
        long oc_end = (u0 + ocv) * 16 < ps->oc ? (u0 + ocv) * 16 : ps->oc;
        for (long ci = 0; ci < ps->classes; ci++) {
            const struct cc_class *cl = ps->cls + ci;
            long end = cl->j0 + cl->pixels;
            long chunk = cl->rows > CC_CHUNK_ABOVE ? CC_CHUNK_ROWS : cl->rows;
            long r0 = 0;
            do {
                long rows = cl->rows - r0 < chunk ? cl->rows - r0 : chunk;
                int first = r0 == 0, last = r0 + rows == cl->rows;
                for (long j0 = cl->j0; j0 < end; j0 += CC_PBI) {
                    for (int j = 0; j < CC_PBI; j++) poff[j] = ps->pin[j0 + j < end ? j0 + j : end - 1];
                    float *part = ps->partial + (j0 - cl->j0) * 16 * CC_OCV;
                    const float *init = first ? b : part;
                    long init_stride = first ? 0 : 16 * CC_OCV;
                    float *dst = last ? tmp : part;
#if CC_OCV > 1
                    if (ocv == 2)
                        CC(forward_iblock_2)(dst, w, unit_stride, rows, cl->rw + r0, cl->ro + r0, ps->xp, poff, init,
                                             init_stride);
                    else
#endif
                        CC(forward_iblock_1)(dst, w, unit_stride, rows, cl->rw + r0, cl->ro + r0, ps->xp, poff, init,
                                             init_stride);
                    if (!last) continue;
                    for (long j = j0; j < j0 + CC_PBI && j < end; j++) {
                        float *out = ps->out + ps->pout[j];
                        const float *src = tmp + (j - j0) * 16 * CC_OCV - u0 * 16;
                        for (long o = u0 * 16; o < oc_end; o++) out[o * ps->out_plane] = src[o];
                    }
                }
                r0 += rows;
            } while (r0 < cl->rows);
        }
    }
}

/// Every output pixel of the pass, every unit of 16 output channels, in register blocks of
/// CC_OCV units × CC_PB pixels. When a pair of units' packed weights would not stay in L2
/// beside the padded input (the 512-channel layers: 590 KB), the rows run in chunks of
/// CC_CHUNK_ROWS, each over all pixels, the sums kept between chunks in `partial` (pixels
/// rounded up to CC_PB, CC_OCV·16): every output still sums its terms in row order from its
/// bias, so chunking moves time only, never bits.
static CC_NO_MEMCPY void CC(run_pass)(const struct cc_pass *ps, float *tmp) {
    if (ps->classes) {
        CC(run_classes)(ps, tmp);
        return;
    }
    long unit_stride = ps->rows * 16;
    long chunk = ps->rows > CC_CHUNK_ABOVE ? CC_CHUNK_ROWS : ps->rows;
    long poff[CC_PB];
    for (long u0 = 0; u0 < ps->units; u0 += CC_OCV) {
        long ocv = ps->units - u0 < CC_OCV ? ps->units - u0 : CC_OCV;
        // Packed here, a pair of units at a time, so that they are still in cache when read.
        const float *w = ps->wpack + u0 * unit_stride, *b = ps->bpack + u0 * 16;
        if (ps->source) {
            for (long u = 0; u < ocv; u++) CC(pack_unit)(ps->wpack + u * unit_stride, ps, u0 + u);
            w = ps->wpack;
        }
        long oc_end = (u0 + ocv) * 16 < ps->oc ? (u0 + ocv) * 16 : ps->oc;
        // At least one chunk: a pass without rows (a phase of a strided dx that no tap
        // reaches) still writes its bias, 0, to every pixel.
        long r0 = 0;
        do {
            long rows = ps->rows - r0 < chunk ? ps->rows - r0 : chunk;
            int first = r0 == 0, last = r0 + rows == ps->rows;
            for (long j0 = 0; j0 < ps->pixels; j0 += CC_PB) {
                // Past the last pixel, a block recomputes the last pixel and drops it.
                for (int j = 0; j < CC_PB; j++) poff[j] = ps->pin[j0 + j < ps->pixels ? j0 + j : ps->pixels - 1];
                float *part = ps->partial + j0 * 16 * CC_OCV;
                const float *init = first ? b : part;
                long init_stride = first ? 0 : 16 * CC_OCV;
                float *dst = last ? tmp : part;
#if CC_OCV > 1
                if (ocv == 2)
                    CC(forward_block_2)(dst, w + 16 * r0, unit_stride, rows, ps->roff + r0, ps->xp, poff, init, init_stride);
                else
#endif
                    CC(forward_block_1)(dst, w + 16 * r0, unit_stride, rows, ps->roff + r0, ps->xp, poff, init, init_stride);
                if (!last) continue;
                for (long j = j0; j < j0 + CC_PB && j < ps->pixels; j++) {
                    float *out = ps->out + ps->pout[j];
                    const float *src = tmp + (j - j0) * 16 * CC_OCV - u0 * 16;
                    for (long o = u0 * 16; o < oc_end; o++) out[o * ps->out_plane] = src[o];
                }
            }
            r0 += rows;
        } while (r0 < ps->rows);
    }
}

// MARK: - Weight gradient

#define CC_WB(OCV, TB) CC_CAT(CC_CAT(CC_CAT(weight_block, OCV), TB), LOOM_SUFFIX)

/// OCV units of 16 output channels × TB weight rows r0..r0+TB−1: acc[u][t] = dwt, then
/// + dy[n, pixel]·x[n, pixel, row] for n in order and, within n, the output pixels in order;
/// written back to dwt (units, rows, 16).
#define CC_WEIGHT_BLOCK(OCV, TB)                                                                         \
    static inline void CC_WB(OCV, TB)(float *dwt, long unit_stride, const float *dyt,                     \
                                                     long dy_stride, const float *xp, const long *roff,   \
                                                     const long *pixoff, size_t batch,                    \
                                                     const struct cc_geometry *g) {                       \
        v16f acc[OCV][TB];                                                                                \
        for (int u = 0; u < OCV; u++) {                                                                   \
            for (int t = 0; t < TB; t++) acc[u][t] = CC(load)(dwt + u * unit_stride + 16 * t);            \
        }                                                                                                 \
        long ro[TB];                                                                                      \
        for (int t = 0; t < TB; t++) ro[t] = roff[t];                                                     \
        for (size_t n = 0; n < batch; n++) {                                                              \
            const float *xn = xp + (long)n * g->cs * g->plane;                                            \
            const float *dn = dyt + (long)n * g->opix * dy_stride;                                        \
            for (long pix = 0; pix < g->opix; pix++) {                                                    \
                v16f d[OCV];                                                                              \
                for (int u = 0; u < OCV; u++) d[u] = CC(load)(dn + pix * dy_stride + 16 * u);              \
                const float *xq = xn + pixoff[pix];                                                       \
                for (int t = 0; t < TB; t++) {                                                            \
                    v16f xv = CC(splat)(xq[ro[t]]);                                                       \
                    for (int u = 0; u < OCV; u++) acc[u][t] = CC(fma)(d[u], xv, acc[u][t]);               \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        for (int u = 0; u < OCV; u++) {                                                                   \
            for (int t = 0; t < TB; t++) CC(store)(dwt + u * unit_stride + 16 * t, acc[u][t]);            \
        }                                                                                                 \
    }

CC_WEIGHT_BLOCK(1, CC_TB)
CC_WEIGHT_BLOCK(1, 1)
#if CC_OCV > 1
CC_WEIGHT_BLOCK(2, CC_TB)
CC_WEIGHT_BLOCK(2, 1)
#endif

/// CC_WEIGHT_BLOCK(OCV, CC_TB) for the CC_TB = k² taps of one input channel, without the
/// terms whose input is padding: pixel pix adds to tap t only when bit t of mask[pix] is set
/// (its input at that tap is inside the plane). Each chain keeps its order (samples, then
/// pixels) less the terms dy·0.
#define CC_WEIGHT_MBLOCK(OCV)                                                                             \
    static inline void CC_CAT(CC_CAT(weight_mblock, OCV), LOOM_SUFFIX)(                                   \
        float *dwt, long unit_stride, const float *dyt, long dy_stride, const float *xp, const long *roff,  \
        const long *pixoff, const unsigned *mask, size_t batch, const struct cc_geometry *g) {             \
        v16f acc[OCV][CC_TB];                                                                             \
        for (int u = 0; u < OCV; u++) {                                                                   \
            for (int t = 0; t < CC_TB; t++) acc[u][t] = CC(load)(dwt + u * unit_stride + 16 * t);         \
        }                                                                                                 \
        long ro[CC_TB];                                                                                   \
        for (int t = 0; t < CC_TB; t++) ro[t] = roff[t];                                                  \
        for (size_t n = 0; n < batch; n++) {                                                              \
            const float *xn = xp + (long)n * g->cs * g->plane;                                            \
            const float *dn = dyt + (long)n * g->opix * dy_stride;                                        \
            for (long pix = 0; pix < g->opix; pix++) {                                                    \
                v16f d[OCV];                                                                              \
                for (int u = 0; u < OCV; u++) d[u] = CC(load)(dn + pix * dy_stride + 16 * u);              \
                const float *xq = xn + pixoff[pix];                                                       \
                unsigned m = mask[pix];                                                                   \
                _Pragma("clang loop unroll(full)") for (int t = 0; t < CC_TB; t++) {                      \
                    if (!(m >> t & 1)) continue;                                                          \
                    v16f xv = CC(splat)(xq[ro[t]]);                                                       \
                    for (int u = 0; u < OCV; u++) acc[u][t] = CC(fma)(d[u], xv, acc[u][t]);               \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        for (int u = 0; u < OCV; u++) {                                                                   \
            for (int t = 0; t < CC_TB; t++) CC(store)(dwt + u * unit_stride + 16 * t, acc[u][t]);         \
        }                                                                                                 \
    }

CC_WEIGHT_MBLOCK(1)
#if CC_OCV > 1
CC_WEIGHT_MBLOCK(2)
#endif

/// dweight (OC, rows) by CC_OCV units at a time: copied into dwt (CC_OCV, rows, 16), the
/// samples' terms added, copied back.
static CC_NO_MEMCPY void CC(conv_weight_gradient_channels)(float *dweight, float *dwt, const float *dyt, size_t batch,
                                                           const struct cc_geometry *g, const float *xp,
                                                           const long *roff, const long *pixoff, const unsigned *mask) {
    long unit_stride = g->rows * 16, dy_stride = g->units * 16;
    if (g->taps != CC_TB) mask = NULL;
    for (long u0 = 0; u0 < g->units; u0 += CC_OCV) {
        long ocv = g->units - u0 < CC_OCV ? g->units - u0 : CC_OCV;
        // A unit whose gradient is still +0 everywhere (each micro-shard's starts so) is set
        // to +0 in dwt rather than read through the transpose: the same values.
        for (long u = 0; u < ocv; u++) {
            long lanes = g->oc - (u0 + u) * 16 < 16 ? g->oc - (u0 + u) * 16 : 16;
            if (CC(all_zero)(dweight + (u0 + u) * 16 * g->rows, lanes * g->rows))
                __builtin_memset(dwt + u * unit_stride, 0, (size_t)unit_stride * sizeof(float));
            else
                CC(transpose_unit)(dwt + u * unit_stride, dweight, u0 + u, g->oc, g->rows, 1);
        }
        float *dw = dwt;
        const float *dy = dyt + u0 * 16;
        long r = 0;
        for (; mask && r + CC_TB <= g->rows; r += CC_TB) {
#if CC_OCV > 1
            if (ocv == 2)
                CC_CAT(weight_mblock_2, LOOM_SUFFIX)(dw + 16 * r, unit_stride, dy, dy_stride, xp, roff + r, pixoff, mask,
                                                     batch, g);
            else
#endif
                CC_CAT(weight_mblock_1, LOOM_SUFFIX)(dw + 16 * r, unit_stride, dy, dy_stride, xp, roff + r, pixoff, mask,
                                                     batch, g);
        }
        for (; r + CC_TB <= g->rows; r += CC_TB) {
#if CC_OCV > 1
            if (ocv == 2) CC_WB(2, CC_TB)(dw + 16 * r, unit_stride, dy, dy_stride, xp, roff + r, pixoff, batch, g);
            else
#endif
                CC_WB(1, CC_TB)(dw + 16 * r, unit_stride, dy, dy_stride, xp, roff + r, pixoff, batch, g);
        }
        for (; r < g->rows; r++) {
#if CC_OCV > 1
            if (ocv == 2) CC_WB(2, 1)(dw + 16 * r, unit_stride, dy, dy_stride, xp, roff + r, pixoff, batch, g);
            else
#endif
                CC_WB(1, 1)(dw + 16 * r, unit_stride, dy, dy_stride, xp, roff + r, pixoff, batch, g);
        }
        for (long u = 0; u < ocv; u++) CC(transpose_unit)(dwt + u * unit_stride, dweight, u0 + u, g->oc, g->rows, 0);
    }
}
