// The bodies of the layer kernels declared in CKernelsLayers.h, included once per instruction
// path by LayerKernels.c with LOOM_SUFFIX naming the path and a `target` attribute on every
// function. Elementwise loops give each element the same IEEE operations whatever its lane;
// a tail shorter than a vector is copied into a zero-padded vector and computed the same way,
// so a value never depends on where it lies. Reductions keep 16 lane sums and add them in
// CKernels' order.

#define LOOM_CAT2(a, b) a##_##b
#define LOOM_CAT(a, b) LOOM_CAT2(a, b)
#define L(name) LOOM_CAT(name, LOOM_SUFFIX)

static inline v16f L(load)(const float *p) { v16f v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void L(store)(float *p, v16f v) { __builtin_memcpy(p, &v, sizeof v); }

/// The first n (< 16) floats of p in a vector, the other lanes 0.
static inline v16f L(load_part)(const float *p, size_t n) {
    float a[16] = {0};
    __builtin_memcpy(a, p, n * sizeof(float));
    return L(load)(a);
}

static inline void L(store_part)(float *p, v16f v, size_t n) {
    float a[16];
    L(store)(a, v);
    __builtin_memcpy(p, a, n * sizeof(float));
}

/// x in all 16 lanes, bit for bit.
static inline v16f L(splat)(float x) {
    v16f v;
    for (int i = 0; i < 16; i++) v[i] = x;
    return v;
}

/// Lanes of `yes` where the mask is set, of `no` elsewhere.
static inline v16f L(select)(v16i mask, v16f yes, v16f no) {
    return (v16f)((mask & (v16i)yes) | (~mask & (v16i)no));
}

/// Lanes i and i+8, then i and i+4, then i and i+2, then 0 and 1 (KernelBodies.h's hsum).
static inline float L(hsum)(v16f v) {
    float a[16], b[8], c[4];
    __builtin_memcpy(a, &v, sizeof a);
    for (int i = 0; i < 8; i++) b[i] = a[i] + a[i + 8];
    for (int i = 0; i < 4; i++) c[i] = b[i] + b[i + 4];
    return (c[0] + c[2]) + (c[1] + c[3]);
}

/// e^a for a ≤ 0 (CKernelsLayers.h, loom_exp_nonpositive).
static inline v16f L(exp_nonpositive)(v16f a) {
    const v16f lowest = L(splat)(-87.0f);
    v16i under = a < lowest;                    // false for NaN, which flows through
    v16f b = L(select)(under, lowest, a);
    // k = round(b·log2 e), by adding and removing 1.5·2^23 (exact for |k| < 2^22).
    const v16f magic = L(splat)(12582912.0f);
    v16f k = (b * L(splat)(1.44269504088896341f) + magic) - magic;
    // r = b − k·ln 2, with ln 2 = ln2_hi + ln2_lo and ln2_hi of 15 significant bits:
    // k·ln2_hi is exact for |k| ≤ 2^9 and b − k·ln2_hi cancels exactly.
    v16f r = (b - k * L(splat)(0.693145751953125f)) - k * L(splat)(1.428606820309417232e-6f);
    // e^r = 1 + r + r²/2! + ... + r⁷/7!, in Horner's order.
    v16f p = L(splat)(1.0f / 5040.0f);
    p = p * r + L(splat)(1.0f / 720.0f);
    p = p * r + L(splat)(1.0f / 120.0f);
    p = p * r + L(splat)(1.0f / 24.0f);
    p = p * r + L(splat)(1.0f / 6.0f);
    p = p * r + L(splat)(0.5f);
    p = p * r + L(splat)(1.0f);
    p = p * r + L(splat)(1.0f);
    // 2^k for k in [−126, 0]: the biased exponent k + 127 in bits 23-30 (a NaN lane converts
    // 0 instead, and stays NaN through p).
    v16f whole = L(select)(k == k, k, L(splat)(0.0f));
    v16u bits = ((v16u)__builtin_convertvector(whole, v16i) + 127u) << 23;
    v16f e = p * (v16f)bits;
    return L(select)(under, L(splat)(0.0f), e);
}

/// σ(x) = 1/(1 + t) for x ≥ 0, t/(1 + t) otherwise, with t = e^−|x|.
static inline v16f L(logistic)(v16f x) {
    v16f t = L(exp_nonpositive)((v16f)((v16i)x | (v16i)L(splat)(-0.0f)));  // −|x|, NaN stays NaN
    v16i negative = x < L(splat)(0.0f);
    return L(select)(negative, t, L(splat)(1.0f)) / (L(splat)(1.0f) + t);
}

/// Every NaN lane as the one quiet NaN 0x7fc00000: when two NaNs meet, which one an
/// instruction passes on depends on the operand order the compiler chose for that path.
static inline v16f L(canonical)(v16f v) { return L(select)(v != v, L(splat)(__builtin_nanf("")), v); }

static inline v16f L(silu_vector)(v16f x) { return L(canonical)(x * L(logistic)(x)); }

static inline v16f L(silu_backward_vector)(v16f dy, v16f x) {
    v16f s = L(logistic)(x);
    const v16f one = L(splat)(1.0f);
    return L(canonical)(dy * (s * (one + x * (one - s))));
}

static float L(exp_nonpositive_scalar)(float a) {
    v16f v = L(exp_nonpositive)(L(splat)(a));
    return v[0];
}

static float L(logistic_scalar)(float x) {
    v16f v = L(canonical)(L(logistic)(L(splat)(x)));
    return v[0];
}

static void L(silu)(float *y, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) L(store)(y + i, L(silu_vector)(L(load)(x + i)));
    if (i < n) L(store_part)(y + i, L(silu_vector)(L(load_part)(x + i, n - i)), n - i);
}

static void L(silu_backward)(float *dx, const float *dy, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) L(store)(dx + i, L(silu_backward_vector)(L(load)(dy + i), L(load)(x + i)));
    if (i < n) {
        v16f v = L(silu_backward_vector)(L(load_part)(dy + i, n - i), L(load_part)(x + i, n - i));
        L(store_part)(dx + i, v, n - i);
    }
}

static float L(dot)(const float *a, const float *b, size_t n) {
    v16f acc = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) acc += L(load)(a + i) * L(load)(b + i);
    float s = L(hsum)(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static void L(scale)(float *q, const float *p, float scale, size_t n) {
    v16f a = L(splat)(scale);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) L(store)(q + i, L(load)(p + i) * a);
    for (; i < n; i++) q[i] = p[i] * scale;
}

static void L(stream_copy)(float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) L(store)(a + i, L(load)(b + i));
    for (; i < n; i++) a[i] = b[i];
}

static void L(stream_triad)(float *a, const float *b, const float *c, float scalar, size_t n) {
    v16f s = L(splat)(scalar);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) L(store)(a + i, L(load)(b + i) + s * L(load)(c + i));
    for (; i < n; i++) a[i] = b[i] + scalar * c[i];
}

// MARK: Depthwise convolution
//
// Each plane is first written into a zero-padded polyphase copy (struct dw_geometry in
// LayerKernels.c): sub-plane (py, px) holds the padded pixels (r, c) with r ≡ py and c ≡ px
// modulo the stride, at (r / s, c / s) in rows of wq floats. Tap (ky, kx) of output (oy, ox)
// then reads sub-plane (ky % s, kx % s) at (oy + ky / s)·wq + ox + kx / s = q + off(tap),
// q = oy·wq + ox: one flat, unit-stride vector loop over the output grid (oh rows of wq,
// of which the first ow columns are kept) per tap, for every stride and padding.

// The depthwise functions below copy rows of a few to a few dozen floats; a call to the C
// library's memcpy costs more than such a copy, so they forbid the compiler to make their
// copy loops into calls (no_builtin) and copy with plain, vectorised loops.
#define LOOM_NO_MEMCPY __attribute__((no_builtin("memcpy"), no_builtin("memset")))

static inline LOOM_NO_MEMCPY void L(copy)(float *dst, const float *src, long n) {
    for (long i = 0; i < n; i++) dst[i] = src[i];
}

/// Padded row `row` (wp floats, zero outside [p, p + w)) into the sub-planes.
static LOOM_NO_MEMCPY void L(scatter_row)(float *planes, const struct dw_geometry *g, long r, const float *padded) {
    long s = g->stride, wq = g->wq;
    float *dst = planes + (r % s) * s * g->plane_stride + (r / s) * wq;
    if (s == 1) {
        L(copy)(dst, padded, g->wp);
    } else if (s == 2) {
        float *even = dst, *odd = dst + g->plane_stride;
        long j = 0;
        for (; j + 16 <= wq; j += 16) {
            v16f a = L(load)(padded + 2 * j), b = L(load)(padded + 2 * j + 16);
            L(store)(even + j, __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
            L(store)(odd + j, __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
        }
        for (; j < wq; j++) {
            even[j] = padded[2 * j];
            odd[j] = padded[2 * j + 1];
        }
    } else {
        for (long c = 0; c < g->wp; c++) dst[(c % s) * g->plane_stride + c / s] = padded[c];
    }
}

/// The inverse of scatter_row: padded row r from the sub-planes.
static LOOM_NO_MEMCPY void L(gather_row)(float *padded, const struct dw_geometry *g, long r, const float *planes) {
    long s = g->stride, wq = g->wq;
    const float *src = planes + (r % s) * s * g->plane_stride + (r / s) * wq;
    if (s == 1) {
        L(copy)(padded, src, g->wp);
    } else if (s == 2) {
        const float *even = src, *odd = src + g->plane_stride;
        long j = 0;
        for (; j + 16 <= wq; j += 16) {
            v16f a = L(load)(even + j), b = L(load)(odd + j);
            L(store)(padded + 2 * j, __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
            L(store)(padded + 2 * j + 16,
                     __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
        }
        for (; j < wq; j++) {
            padded[2 * j] = even[j];
            padded[2 * j + 1] = odd[j];
        }
    } else {
        for (long c = 0; c < g->wp; c++) padded[c] = src[(c % s) * g->plane_stride + c / s];
    }
}

/// One input plane (h, w) into the polyphase copy; `row` is a zeroed row of row_floats floats
/// whose padding columns stay 0. The padding rows and columns of `planes` are never written
/// (they stay 0).
static LOOM_NO_MEMCPY void L(load_plane)(float *planes, const struct dw_geometry *g, const float *x, float *row) {
    for (long iy = 0; iy < g->h; iy++) {
        if (g->stride == 1) {
            L(copy)(planes + (iy + g->p) * g->wq + g->p, x + iy * g->w, g->w);
        } else {
            L(copy)(row + g->p, x + iy * g->w, g->w);
            L(scatter_row)(planes, g, iy + g->p, row);
        }
    }
}

static LOOM_NO_MEMCPY void L(depthwise_forward)(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                                 const struct dw_geometry *g, float *scratch) {
    long k = g->k, s = g->stride, taps = k * k;
    float *planes = scratch, *grid = planes + g->planes_floats, *row = grid + g->grid_floats;
    v16f *w = (v16f *)(void *)(row + g->row_floats);
    long *offset = (long *)(void *)(w + taps);
    for (long ky = 0; ky < k; ky++)
        for (long kx = 0; kx < k; kx++)
            offset[ky * k + kx] = ((ky % s) * s + kx % s) * g->plane_stride + (ky / s) * g->wq + kx / s;
    for (size_t n = 0; n < batch; n++) {
        for (long c = 0; c < g->channels; c++) {
            const float *xp = x + ((long)n * g->channels + c) * g->h * g->w;
            float *yp = y + ((long)n * g->channels + c) * g->oh * g->ow;
            L(load_plane)(planes, g, xp, row);
            for (long t = 0; t < taps; t++) w[t] = L(splat)(weight[c * taps + t]);
            v16f start = L(splat)(bias ? bias[c] : 0.0f);
            // Four vectors of outputs at a time: four independent chains of additions.
            long q = 0;
            for (; q + 64 <= g->grid; q += 64) {
                v16f a0 = start, a1 = start, a2 = start, a3 = start;
                for (long t = 0; t < taps; t++) {
                    const float *in = planes + offset[t] + q;
                    a0 += w[t] * L(load)(in);
                    a1 += w[t] * L(load)(in + 16);
                    a2 += w[t] * L(load)(in + 32);
                    a3 += w[t] * L(load)(in + 48);
                }
                L(store)(grid + q, a0);
                L(store)(grid + q + 16, a1);
                L(store)(grid + q + 32, a2);
                L(store)(grid + q + 48, a3);
            }
            for (; q < g->grid; q += 16) {
                v16f acc = start;
                for (long t = 0; t < taps; t++) acc += w[t] * L(load)(planes + offset[t] + q);
                L(store)(grid + q, acc);
            }
            for (long oy = 0; oy < g->oh; oy++) L(copy)(yp + oy * g->ow, grid + oy * g->wq, g->ow);
        }
    }
}

static LOOM_NO_MEMCPY void L(depthwise_backward)(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                                  const float *weight, size_t batch, const struct dw_geometry *g, float *scratch) {
    long k = g->k, s = g->stride, taps = k * k;
    float *planes = scratch, *grid = planes + g->planes_floats, *row = grid + g->grid_floats;
    float *out_row = row + g->row_floats, *dplanes = out_row + g->row_floats;
    long *offset = (long *)(void *)(dplanes + g->planes_floats);
    for (long ky = 0; ky < k; ky++)
        for (long kx = 0; kx < k; kx++)
            offset[ky * k + kx] = ((ky % s) * s + kx % s) * g->plane_stride + (ky / s) * g->wq + kx / s;
    for (size_t n = 0; n < batch; n++) {
        for (long c = 0; c < g->channels; c++) {
            long plane = (long)n * g->channels + c;
            const float *xp = x + plane * g->h * g->w, *dyp = dy + plane * g->oh * g->ow;
            L(load_plane)(planes, g, xp, row);
            // dy on the output grid; its columns ow..<wq and the slack stay 0.
            for (long oy = 0; oy < g->oh; oy++) L(copy)(grid + oy * g->wq, dyp + oy * g->ow, g->ow);
            if (dbias) dbias[c] += loom_sum(dyp, (size_t)(g->oh * g->ow));
            if (dx) for (long i = 0; i < g->planes_floats; i += 16) L(store)(dplanes + i, (v16f){0});
            for (long t = 0; t < taps; t++) {
                const float *in = planes + offset[t];
                float *din = dplanes + offset[t];
                // Vector j of the grid goes to partial sum j mod 2 (two chains of additions);
                // the two are added, then the lanes in hsum's order.
                v16f acc0 = {0}, acc1 = {0}, w = L(splat)(weight[c * taps + t]);
                long q = 0;
                if (dx) {
                    for (; q + 32 <= g->grid; q += 32) {
                        v16f d0 = L(load)(grid + q), d1 = L(load)(grid + q + 16);
                        acc0 += d0 * L(load)(in + q);
                        acc1 += d1 * L(load)(in + q + 16);
                        L(store)(din + q, L(load)(din + q) + w * d0);
                        L(store)(din + q + 16, L(load)(din + q + 16) + w * d1);
                    }
                    if (q < g->grid) {
                        v16f d = L(load)(grid + q);
                        acc0 += d * L(load)(in + q);
                        L(store)(din + q, L(load)(din + q) + w * d);
                    }
                } else {
                    for (; q + 32 <= g->grid; q += 32) {
                        acc0 += L(load)(grid + q) * L(load)(in + q);
                        acc1 += L(load)(grid + q + 16) * L(load)(in + q + 16);
                    }
                    if (q < g->grid) acc0 += L(load)(grid + q) * L(load)(in + q);
                }
                dweight[c * taps + t] += L(hsum)(acc0 + acc1);
            }
            if (!dx) continue;
            float *dxp = dx + plane * g->h * g->w;
            for (long iy = 0; iy < g->h; iy++) {
                if (s == 1) {
                    L(copy)(dxp + iy * g->w, dplanes + (iy + g->p) * g->wq + g->p, g->w);
                } else {
                    L(gather_row)(out_row, g, iy + g->p, dplanes);
                    L(copy)(dxp + iy * g->w, out_row + g->p, g->w);
                }
            }
        }
    }
}

#undef L
