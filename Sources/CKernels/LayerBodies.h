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

/// hsum of four vectors at once, each in hsum's order (lanes i and i+8, then i and i+4,
/// then i and i+2, then 0 and 1), the four sums side by side in lanes: the same bits.
static inline void L(hsum4)(float out[4], v16f a, v16f b, v16f c, v16f d) {
    // [a0..7 + a8..15, b0..7 + b8..15], the same for c and d.
    v16f ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
              __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    v16f cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
              __builtin_shufflevector(c, d, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    // Per vector, lanes i and i+4 of its eight: [a 4, b 4, c 4, d 4].
    v16f e = __builtin_shufflevector(ab, cd, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
             __builtin_shufflevector(ab, cd, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    // Per vector, (c0 + c2) and (c1 + c3), then their sum.
    v16f f = e + __builtin_shufflevector(e, e, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    v16f h = f + __builtin_shufflevector(f, f, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    out[0] = h[0];
    out[1] = h[4];
    out[2] = h[8];
    out[3] = h[12];
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
//
// Rows move 16 floats at a time: a row's last vector is read whole when it stays inside the
// plane (else only its first floats), its lanes past the row set to 0, and written whole.
// The copies only ever write data where data belongs and 0 everywhere else, so the padding
// of the scratch copies (zeroed once per call) stays 0, and a vector that runs past a row
// lands on rows written after it. Every copy stays inside its plane.
//
// On AVX-512, 3 × 3 kernels of padding 1 skip the copies for y and dx (stride 1 on rows of at
// most 32 pixels, stride 2 on rows of at most 30 for y and 64 for dx): the rows of x or dy are
// held in registers as the vectors each kernel row reads, and every output still takes all
// its taps in (ky, kx) order, those on padding as w·0: the same bits.

// The depthwise functions below copy rows of a few to a few dozen floats; a call to the C
// library's memcpy costs more than such a copy, so they forbid the compiler to make their
// copy loops into calls (no_builtin) and copy with plain, vectorised loops.
#define LOOM_NO_MEMCPY __attribute__((no_builtin("memcpy"), no_builtin("memset")))
#define LOOM_INLINE inline __attribute__((always_inline))

static inline LOOM_NO_MEMCPY void L(copy)(float *dst, const float *src, long n) {
    for (long i = 0; i < n; i++) dst[i] = src[i];
}

/// Lanes below n set (n may be 16 or more: all of them).
static inline v16i L(lanes_below)(long n) {
    const v16i index = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    v16i limit;
    int m = n > 16 ? 16 : (int)n;
    for (int i = 0; i < 16; i++) limit[i] = m;
    return index < limit;
}

/// The first n (1 ≤ n < 16) floats of p, the other lanes 0, reading no further: a masked
/// load on AVX-512 and AVX2 (no call, no trip through memory), load_part on SSE2.
static inline v16f L(load_masked)(const float *p, long n) {
#if LOOM_MASKED == 2
    return (v16f)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
#elif LOOM_MASKED == 1
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 lo = _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lanes));
    __m256 hi = _mm256_maskload_ps(p + 8, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n - 8), lanes));
    return __builtin_shufflevector((v8f)lo, (v8f)hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#else
    return L(load_part)(p, (size_t)n);
#endif
}

/// The first n (1 ≤ n < 16) lanes of v to p, writing no further.
static inline void L(store_masked)(float *p, v16f v, long n) {
#if LOOM_MASKED == 2
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
#else
    L(store_part)(p, v, (size_t)n);
#endif
}

/// 16 floats from p, of which the first n (≥ 1) are wanted, the lanes from n on 0: read
/// whole when `whole` (then select), else masked.
static inline v16f L(load_first)(const float *p, long n, int whole) {
    if (n >= 16) return L(load)(p);
#if LOOM_MASKED == 2
    (void)whole;
    return L(load_masked)(p, n);
#else
    if (whole) return L(select)(L(lanes_below)(n), L(load)(p), (v16f){0});
    return L(load_masked)(p, n);
#endif
}

/// n floats from src to dst, 16 at a time: the last vector's lanes past n are written as 0
/// (up to 15 floats past dst + n). It reads whole vectors up to src_end, and stops at n
/// beyond it.
static inline LOOM_NO_MEMCPY void L(put_row)(float *dst, const float *src, long n, const float *src_end) {
    long i = 0;
    for (; i + 16 <= n; i += 16) L(store)(dst + i, L(load)(src + i));
    if (i < n) L(store)(dst + i, L(load_first)(src + i, n - i, src + i + 16 <= src_end));
}

/// n floats from src to dst, written exactly up to dst_end and 16 at a time before it.
static inline LOOM_NO_MEMCPY void L(take_row)(float *dst, const float *src, long n, const float *dst_end) {
    long i = 0;
    for (; i + 16 <= n; i += 16) L(store)(dst + i, L(load)(src + i));
    if (i < n) {
        if (dst + i + 16 <= dst_end) L(store)(dst + i, L(load)(src + i));
        else L(store_masked)(dst + i, L(load)(src + i), n - i);
    }
}

/// Row x (w floats) of a plane into padded row r = iy + p of the stride-2 polyphase copy:
/// x[i] goes to sub-plane column (p + i) / 2 of sub-plane (p + i) % 2.
static inline LOOM_NO_MEMCPY void L(put_row2)(float *planes, const struct dw_geometry *g, long r, const float *x,
                                              const float *x_end) {
    float *sub = planes + (r % 2) * 2 * g->plane_stride + (r / 2) * g->wq;
    long p = g->p, w = g->w;
    float *even = sub + (p % 2) * g->plane_stride + p / 2;
    float *odd = sub + ((p + 1) % 2) * g->plane_stride + (p + 1) / 2;
    for (long i = 0; i < w; i += 32) {
        long n = w - i;
        v16f a = L(load_first)(x + i, n, x + i + 16 <= x_end);
        v16f b = n > 16 ? L(load_first)(x + i + 16, n - 16, x + i + 32 <= x_end) : (v16f){0};
        L(store)(even + i / 2, __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
        L(store)(odd + i / 2, __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
    }
}

/// The inverse: dx row (w floats) from padded row r = iy + p of a stride-2 polyphase layout
/// whose row R = r / 2 of phase (r % 2, 0) starts at `sub` and whose phase (r % 2, 1) lies
/// px_stride floats further; written exactly up to dst_end.
static inline LOOM_NO_MEMCPY void L(take_row2)(float *dx, const float *sub, long px_stride, long p, long w,
                                               const float *dst_end) {
    const float *even = sub + (p % 2) * px_stride + p / 2;
    const float *odd = sub + ((p + 1) % 2) * px_stride + (p + 1) / 2;
    for (long i = 0; i < w; i += 32) {
        v16f a = L(load)(even + i / 2), b = L(load)(odd + i / 2);
        v16f lo = __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        v16f hi = __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        long n = w - i;
        if (dx + i + 32 <= dst_end) {
            L(store)(dx + i, lo);
            L(store)(dx + i + 16, hi);
        } else if (n < 16) {
            L(store_masked)(dx + i, lo, n);
        } else {
            L(store)(dx + i, lo);
            if (n > 16) L(store_masked)(dx + i + 16, hi, n - 16);
        }
    }
}

/// Padded row `row` (wp floats, zero outside [p, p + w)) into the sub-planes (any stride).
static LOOM_NO_MEMCPY void L(scatter_row)(float *planes, const struct dw_geometry *g, long r, const float *padded) {
    long s = g->stride;
    float *dst = planes + (r % s) * s * g->plane_stride + (r / s) * g->wq;
    for (long c = 0; c < g->wp; c++) dst[(c % s) * g->plane_stride + c / s] = padded[c];
}

/// The inverse of scatter_row: padded row r from the sub-planes.
static LOOM_NO_MEMCPY void L(gather_row)(float *padded, const struct dw_geometry *g, long r, const float *planes) {
    long s = g->stride;
    const float *src = planes + (r % s) * s * g->plane_stride + (r / s) * g->wq;
    for (long c = 0; c < g->wp; c++) padded[c] = src[(c % s) * g->plane_stride + c / s];
}

/// One input plane (h, w) into the polyphase copy; `row` is a zeroed row of row_floats floats
/// whose padding columns stay 0 (strides above 2).
static LOOM_NO_MEMCPY void L(load_plane)(float *planes, const struct dw_geometry *g, const float *x, float *row) {
    const float *x_end = x + g->h * g->w;
    for (long iy = 0; iy < g->h; iy++) {
        const float *xr = x + iy * g->w;
        if (g->stride == 1) {
            L(put_row)(planes + (iy + g->p) * g->wq + g->p, xr, g->w, x_end);
        } else if (g->stride == 2) {
            L(put_row2)(planes, g, iy + g->p, xr, x_end);
        } else {
            L(copy)(row + g->p, xr, g->w);
            L(scatter_row)(planes, g, iy + g->p, row);
        }
    }
}

/// V vectors of a grid from `in` (V a constant once inlined): each lane the start, then
/// w[t]·in[offset[t] + lane] for t in order, a product and a sum per tap.
static LOOM_INLINE void L(tap_block)(float *out, const float *in, const long *offset, const float *weight, long taps,
                                     float start, const int V) {
    v16f acc[8];
    for (int v = 0; v < V; v++) acc[v] = L(splat)(start);
    for (long t = 0; t < taps; t++) {
        v16f w = L(splat)(weight[t]);
        const float *p = in + offset[t];
        for (int v = 0; v < V; v++) acc[v] += w * L(load)(p + 16 * v);
    }
    for (int v = 0; v < V; v++) L(store)(out + 16 * v, acc[v]);
}

/// `vectors` vectors of a grid as tap_block computes them, in register blocks of up to 8.
static void L(tap_grid)(float *out, const float *in, const long *offset, const float *weight, long taps, float start,
                        long vectors) {
    long v = 0;
    if (vectors > 8)
        for (; v + 4 <= vectors; v += 4) L(tap_block)(out + 16 * v, in + 16 * v, offset, weight, taps, start, 4);
    float *o = out + 16 * v;
    const float *i = in + 16 * v;
    switch (vectors - v) {
    case 1: L(tap_block)(o, i, offset, weight, taps, start, 1); break;
    case 2: L(tap_block)(o, i, offset, weight, taps, start, 2); break;
    case 3: L(tap_block)(o, i, offset, weight, taps, start, 3); break;
    case 4: L(tap_block)(o, i, offset, weight, taps, start, 4); break;
    case 5: L(tap_block)(o, i, offset, weight, taps, start, 5); break;
    case 6: L(tap_block)(o, i, offset, weight, taps, start, 6); break;
    case 7: L(tap_block)(o, i, offset, weight, taps, start, 7); break;
    case 8: L(tap_block)(o, i, offset, weight, taps, start, 8); break;
    default: break;
    }
}

/// The output rows of a grid into plane y (oh × ow).
static inline LOOM_NO_MEMCPY void L(take_plane)(float *y, const float *grid, const struct dw_geometry *g) {
    float *end = y + g->oh * g->ow;
    for (long oy = 0; oy < g->oh; oy++) L(take_row)(y + oy * g->ow, grid + oy * g->wq, g->ow, end);
}

#if LOOM_MASKED == 2
// A 3 × 3 kernel of stride 2 and padding 1 on rows of at most 30 pixels, AVX-512: y straight
// from x's rows, without the polyphase copy. Input row iy, padded, splits into its even and
// odd columns in registers: kx = 0 reads x[2·ox − 1], kx = 1 x[2·ox], kx = 2 x[2·ox + 1] (0
// past the row). Output row oy takes kernel row ky from input row 2·oy + ky − 1 (a row of 0
// past the plane): the start, then all nine taps in (ky, kx) order, those on padding as w·0,
// the same operations as tap_grid on the copy.

/// Input row x (w ≤ 30 floats) as the three vectors its kernel row reads: lane ox of c[kx]
/// holds padded column 2·ox + kx.
static LOOM_INLINE void L(s2_columns)(v16f c[3], const float *x, long w) {
    const __m512i even = _mm512_setr_epi32(0, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29);
    const __m512i mid = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 a = (__m512)L(load_first)(x, w, 0);
    __m512 b = w > 16 ? (__m512)L(load_first)(x + 16, w - 16, 0) : _mm512_setzero_ps();
    c[0] = (v16f)_mm512_maskz_permutex2var_ps((__mmask16)0xFFFE, a, even, b);
    c[1] = (v16f)_mm512_permutex2var_ps(a, mid, b);
    c[2] = (v16f)_mm512_permutex2var_ps(a, odd, b);
}

/// y of one plane (oh rows of ow ≤ 15) from x (h × w), rows written whole up to y_end.
static void L(y_s2k3_plane)(float *y, const float *x, const float *wc, float start, long h, long w, long oh,
                            long ow, const float *y_end) {
    v16f wt[9];
    for (int t = 0; t < 9; t++) wt[t] = L(splat)(wc[t]);
    v16f top[3] = {{0}, {0}, {0}};   // input row 2·oy − 1
    for (long oy = 0; oy < oh; oy++) {
        v16f mid[3], bottom[3] = {{0}, {0}, {0}};
        L(s2_columns)(mid, x + 2 * oy * w, w);
        if (2 * oy + 1 < h) L(s2_columns)(bottom, x + (2 * oy + 1) * w, w);
        v16f acc = L(splat)(start);
        for (int kx = 0; kx < 3; kx++) acc += wt[kx] * top[kx];
        for (int kx = 0; kx < 3; kx++) acc += wt[3 + kx] * mid[kx];
        for (int kx = 0; kx < 3; kx++) acc += wt[6 + kx] * bottom[kx];
        float *row = y + oy * ow;
        if (row + 16 <= y_end) L(store)(row, acc);
        else L(store_masked)(row, acc, ow);
        for (int kx = 0; kx < 3; kx++) top[kx] = bottom[kx];
    }
}

// A 3 × 3 kernel of stride 1 and padding 1 on rows of at most 32 pixels, AVX-512: y straight
// from x's rows, each row held as the three vectors its kernel row reads (lane ox of c[kx]
// holds x[ox + kx − 1], 0 outside the row), kernel rows from input rows oy − 1, oy, oy + 1 (0
// outside the plane): the start, then all nine taps in (ky, kx) order, as tap_grid.

/// Input row x (w ≤ 32 floats) as c[V][3]: vector v of kernel column kx.
static LOOM_INLINE void L(s1_columns)(v16f c[2][3], const float *x, long w, const int V) {
    __m512i zero = _mm512_setzero_si512();
    __m512i a = (__m512i)L(load_first)(x, w, 0);
    __m512i b = V == 2 ? (__m512i)L(load_first)(x + 16, w - 16, 0) : zero;
    c[0][0] = (v16f)_mm512_alignr_epi32(a, zero, 15);
    c[0][1] = (v16f)a;
    c[0][2] = (v16f)_mm512_alignr_epi32(b, a, 1);
    if (V == 2) {
        c[1][0] = (v16f)_mm512_alignr_epi32(b, a, 15);
        c[1][1] = (v16f)b;
        c[1][2] = (v16f)_mm512_alignr_epi32(zero, b, 1);
    }
}

/// y of one plane (h × w, w ≤ 16·V) from x, rows written whole up to y_end.
static LOOM_INLINE void L(y_s1k3_plane)(float *y, const float *x, const float *wc, float start, long h, long w,
                                        const float *y_end, const int V) {
    v16f wt[9];
    for (int t = 0; t < 9; t++) wt[t] = L(splat)(wc[t]);
    v16f top[2][3] = {{{0}, {0}, {0}}, {{0}, {0}, {0}}}, mid[2][3];
    L(s1_columns)(mid, x, w, V);
    for (long oy = 0; oy < h; oy++) {
        v16f bottom[2][3] = {{{0}, {0}, {0}}, {{0}, {0}, {0}}};
        if (oy + 1 < h) L(s1_columns)(bottom, x + (oy + 1) * w, w, V);
        float *row = y + oy * w;
        for (int v = 0; v < V; v++) {
            v16f acc = L(splat)(start);
            for (int kx = 0; kx < 3; kx++) acc += wt[kx] * top[v][kx];
            for (int kx = 0; kx < 3; kx++) acc += wt[3 + kx] * mid[v][kx];
            for (int kx = 0; kx < 3; kx++) acc += wt[6 + kx] * bottom[v][kx];
            long n = w - 16 * v;
            if (row + 16 * v + 16 <= y_end) L(store)(row + 16 * v, acc);
            else L(store_masked)(row + 16 * v, acc, n < 16 ? n : 16);
        }
        for (int v = 0; v < V; v++)
            for (int kx = 0; kx < 3; kx++) {
                top[v][kx] = mid[v][kx];
                mid[v][kx] = bottom[v][kx];
            }
    }
}
#endif

// The planes go through a software pipeline over two copies of each buffer: while the taps
// of plane i run over one polyphase copy, plane i + 1 is written into the other, and plane
// i − 1's grid is copied out. The loads of x then wait for memory beside the arithmetic, and
// the taps never read a copy whose writes are still in flight.
static LOOM_NO_MEMCPY void L(depthwise_forward)(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                                 const struct dw_geometry *g, float *scratch) {
    long k = g->k, s = g->stride, taps = k * k;
    float *planes[2] = {scratch, scratch + g->planes_floats};
    float *grid[2] = {planes[1] + g->planes_floats, planes[1] + g->planes_floats + g->grid_floats};
    float *row = grid[1] + g->grid_floats;
    long *offset = (long *)(void *)(row + g->row_floats);
    for (long ky = 0; ky < k; ky++)
        for (long kx = 0; kx < k; kx++)
            offset[ky * k + kx] = ((ky % s) * s + kx % s) * g->plane_stride + (ky / s) * g->wq + kx / s;
    long in_plane = g->h * g->w, out_plane = g->oh * g->ow, total = (long)batch * g->channels;
    if (total == 0) return;
#if LOOM_MASKED == 2
    if (k == 3 && s == 2 && g->p == 1 && g->w <= 30) {
        // Planes are written in order: whole rows up to the end of y.
        const float *y_end = y + total * out_plane;
        for (long i = 0; i < total; i++) {
            long c = i % g->channels;
            L(y_s2k3_plane)(y + i * out_plane, x + i * in_plane, weight + c * taps, bias ? bias[c] : 0.0f, g->h, g->w,
                            g->oh, g->ow, y_end);
        }
        return;
    }
    if (k == 3 && s == 1 && g->p == 1 && g->w <= 32) {
        const float *y_end = y + total * out_plane;
        for (long i = 0; i < total; i++) {
            long c = i % g->channels;
            float start = bias ? bias[c] : 0.0f;
            if (g->w <= 16) L(y_s1k3_plane)(y + i * out_plane, x + i * in_plane, weight + c * taps, start, g->h, g->w, y_end, 1);
            else L(y_s1k3_plane)(y + i * out_plane, x + i * in_plane, weight + c * taps, start, g->h, g->w, y_end, 2);
        }
        return;
    }
#endif
    L(load_plane)(planes[0], g, x, row);
    for (long i = 0; i < total; i++) {
        long c = i % g->channels;
        if (i + 1 < total) L(load_plane)(planes[(i + 1) & 1], g, x + (i + 1) * in_plane, row);
        L(tap_grid)(grid[i & 1], planes[i & 1], offset, weight + c * taps, taps, bias ? bias[c] : 0.0f, g->grid / 16);
        if (i > 0) L(take_plane)(y + (i - 1) * out_plane, grid[(i - 1) & 1], g);
    }
    L(take_plane)(y + (total - 1) * out_plane, grid[(total - 1) & 1], g);
}

/// Per tap t of `count` (≤ 4) from `first`: dweight[t] += the dot product of the dy grid and
/// the input the tap read, vector j of the grid in partial sum j mod 2, the two added, then
/// their lanes in hsum's order. The taps share each load of dy.
static LOOM_INLINE void L(dweight_taps)(float *dweight, const float *dygrid, const float *planes, const long *offset,
                                        long grid, const int count) {
    v16f acc0[4], acc1[4];
    const float *in[4];
    for (int t = 0; t < count; t++) {
        acc0[t] = (v16f){0};
        acc1[t] = (v16f){0};
        in[t] = planes + offset[t];
    }
    long q = 0;
    for (; q + 32 <= grid; q += 32) {
        v16f d0 = L(load)(dygrid + q), d1 = L(load)(dygrid + q + 16);
        for (int t = 0; t < count; t++) {
            acc0[t] += d0 * L(load)(in[t] + q);
            acc1[t] += d1 * L(load)(in[t] + q + 16);
        }
    }
    if (q < grid) {
        v16f d = L(load)(dygrid + q);
        for (int t = 0; t < count; t++) acc0[t] += d * L(load)(in[t] + q);
    }
    if (count == 4) {
        float sums[4];
        L(hsum4)(sums, acc0[0] + acc1[0], acc0[1] + acc1[1], acc0[2] + acc1[2], acc0[3] + acc1[3]);
        for (int t = 0; t < 4; t++) dweight[t] += sums[t];
    } else {
        for (int t = 0; t < count; t++) dweight[t] += L(hsum)(acc0[t] + acc1[t]);
    }
}

#if LOOM_MASKED == 2
// A 3 × 3 kernel of stride 1 on padded rows of exactly 16 floats (wq = 16: 14 × 14 planes
// with p = 1), AVX-512: every row of the grid is one vector, so a row of x serves the three
// kernel rows at once. The same products, added in the same order, as dweight_taps and the
// gathered dx's tap_grid: the same bits with about half the loads.

/// dweight_taps over all nine taps: vector j (= output row j) in partial sum j mod 2.
static void L(dweight_rows16)(float *dweight, const float *dygrid, const float *planes, long oh) {
    v16f acc[2][9];
    for (int p = 0; p < 2; p++)
        for (int t = 0; t < 9; t++) acc[p][t] = (v16f){0};
    for (long r = 0; r < oh + 2; r++) {
        v16f xs[3];
        for (int kx = 0; kx < 3; kx++) xs[kx] = L(load)(planes + 16 * r + kx);
        for (int ky = 0; ky < 3; ky++) {
            long j = r - ky;
            if (j < 0 || j >= oh) continue;
            v16f d = L(load)(dygrid + 16 * j);
            if (j & 1)
                for (int kx = 0; kx < 3; kx++) acc[1][3 * ky + kx] += d * xs[kx];
            else
                for (int kx = 0; kx < 3; kx++) acc[0][3 * ky + kx] += d * xs[kx];
        }
    }
    float sums[8];
    L(hsum4)(sums, acc[0][0] + acc[1][0], acc[0][1] + acc[1][1], acc[0][2] + acc[1][2], acc[0][3] + acc[1][3]);
    L(hsum4)(sums + 4, acc[0][4] + acc[1][4], acc[0][5] + acc[1][5], acc[0][6] + acc[1][6], acc[0][7] + acc[1][7]);
    for (int t = 0; t < 8; t++) dweight[t] += sums[t];
    dweight[8] += L(hsum)(acc[0][8] + acc[1][8]);
}

/// dweight_rows16 for 14-wide planes of padding 1 straight from the rows of x and dy (h × 14
/// both): padded row r of the copy is x's row r − 1 held as three shifted vectors (0 outside
/// the plane; lane 15 of the kx = 2 vector 0 where the copy holds the next row's first pixel,
/// which meets a 0 of dy's grid either way), dy's row j its 14 floats and two 0 lanes.
static void L(dweight_rows14)(float *dweight, const float *dy, const float *x, long oh) {
    v16f acc[2][9];
    for (int p = 0; p < 2; p++)
        for (int t = 0; t < 9; t++) acc[p][t] = (v16f){0};
    for (long r = 0; r < oh + 2; r++) {
        v16f xs[2][3] = {{{0}, {0}, {0}}, {{0}, {0}, {0}}};
        if (r >= 1 && r <= oh) L(s1_columns)(xs, x + 14 * (r - 1), 14, 1);
        for (int ky = 0; ky < 3; ky++) {
            long j = r - ky;
            if (j < 0 || j >= oh) continue;
            v16f d = L(load_masked)(dy + 14 * j, 14);
            if (j & 1)
                for (int kx = 0; kx < 3; kx++) acc[1][3 * ky + kx] += d * xs[0][kx];
            else
                for (int kx = 0; kx < 3; kx++) acc[0][3 * ky + kx] += d * xs[0][kx];
        }
    }
    float sums[8];
    L(hsum4)(sums, acc[0][0] + acc[1][0], acc[0][1] + acc[1][1], acc[0][2] + acc[1][2], acc[0][3] + acc[1][3]);
    L(hsum4)(sums + 4, acc[0][4] + acc[1][4], acc[0][5] + acc[1][5], acc[0][6] + acc[1][6], acc[0][7] + acc[1][7]);
    for (int t = 0; t < 8; t++) dweight[t] += sums[t];
    dweight[8] += L(hsum)(acc[0][8] + acc[1][8]);
}

/// The gathered dx: row j sums, from 0, w(ky, kx)·dyp[16·(j + 2 − ky) + 2 − kx] in (ky, kx)
/// order. The rows of dyp go from the last down, so each dx row meets ky = 0 first; a row is
/// complete, and written whole to dxgrid + 16·j, once ky = 2 has passed. (Into the grid, not
/// straight into dx: masked stores to lines not yet in the cache, one per row, cost more on
/// Zen 4 than the copy out: 144-channel 14 × 14 layer, caches cold, 1300 against 800 µs.)
static void L(dx_rows16)(float *dxgrid, const float *dyp, const float *wc, long h) {
    v16f wt[9];
    for (int t = 0; t < 9; t++) wt[t] = L(splat)(wc[t]);
    v16f acc[3] = {{0}, {0}, {0}};   // acc[i]: dx row R − 2 + i
    for (long R = h + 1; R >= 0; R--) {
        v16f ds[3];
        for (int kx = 0; kx < 3; kx++) ds[kx] = L(load)(dyp + 16 * R + 2 - kx);
        acc[0] = (v16f){0};
        for (int ky = 0; ky < 3; ky++) {
            long j = R - 2 + ky;
            if (j < 0 || j >= h) continue;
            for (int kx = 0; kx < 3; kx++) acc[ky] += wt[3 * ky + kx] * ds[kx];
        }
        if (R < h) L(store)(dxgrid + 16 * R, acc[2]);
        acc[2] = acc[1];
        acc[1] = acc[0];
    }
}

// A 3 × 3 kernel of stride 2 and padding 1, AVX-512: dx straight in its rows, without the
// phases' sub-planes and their interleaving. Input column ix takes kx = 1 from dy column
// ix / 2 when ix is even; kx = 0 from dy column (ix + 1) / 2 and then kx = 2 from column
// (ix − 1) / 2 when ix is odd; rows likewise (iy even: ky = 1 from dy row iy / 2; iy odd:
// ky = 0 from row (iy + 1) / 2, then ky = 2 from row (iy − 1) / 2). Per kernel row, one
// multiply-add over every lane (kx = 1 in the even lanes, kx = 0 in the odd) and one over
// the odd lanes only (kx = 2): each input sums, from 0, the products of its phase's taps in
// (ky, kx) order, the phases' bits. A tap that would read dy column ow reads the 0 of the
// grid's column ow < wq and adds w·0, as the phases do.

/// The 16 dy values vector v of an input row reads, from dy row `d` of the grid (8v on):
/// lane i takes d[8v + ⌈i / 2⌉] (ceil) and d[8v + ⌊i / 2⌋] (floor).
static LOOM_INLINE void L(s2_spread)(v16f *ceil, v16f *floor, const float *d) {
    const __m512i up = _mm512_setr_epi32(0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8);
    const __m512i down = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    __m512 v = _mm512_loadu_ps(d);
    *ceil = (v16f)_mm512_permutexvar_ps(up, v);
    *floor = (v16f)_mm512_permutexvar_ps(down, v);
}

/// The taps of kernel row ky (weights wa: kx = 1 in even lanes, kx = 0 in odd; wb: kx = 2)
/// on the spread dy row (ceil, floor) into acc.
static LOOM_INLINE v16f L(s2_row_taps)(v16f acc, v16f wa, v16f wb, v16f ceil, v16f floor) {
    acc = acc + wa * ceil;
    v16f b = wb * floor;
    return (v16f)_mm512_mask_add_ps((__m512)acc, (__mmask16)0xAAAA, (__m512)acc, (__m512)b);
}

/// dx of one plane (h × w, w ≤ 16·V) from the dy grid (rows of wq, column ow and row oh 0),
/// rows written whole up to dx_end, masked past it.
static LOOM_INLINE void L(dx_s2k3_plane)(float *dx, const float *grid, const float *wc, long h, long w, long wq,
                                         long oh, const float *dx_end, const int V) {
    v16f wa[3], wb[3];
    for (int ky = 0; ky < 3; ky++) {
        __m512 one = _mm512_set1_ps(wc[3 * ky + 1]), zero = _mm512_set1_ps(wc[3 * ky]);
        wa[ky] = (v16f)_mm512_mask_blend_ps((__mmask16)0xAAAA, one, zero);   // odd lanes: kx = 0
        wb[ky] = L(splat)(wc[3 * ky + 2]);
    }
    v16f cur_c[4], cur_f[4], next_c[4], next_f[4];
    for (int v = 0; v < V; v++) L(s2_spread)(&cur_c[v], &cur_f[v], grid + 8 * v);
    for (long m = 0; 2 * m < h; m++) {
        float *row = dx + 2 * m * w;
        // Row 2m: ky = 1 from dy row m.
        for (int v = 0; v < V; v++) {
            v16f acc = L(s2_row_taps)((v16f){0}, wa[1], wb[1], cur_c[v], cur_f[v]);
            long n = w - 16 * v;
            if (row + 16 * v + 16 <= dx_end) L(store)(row + 16 * v, acc);
            else L(store_masked)(row + 16 * v, acc, n < 16 ? n : 16);
        }
        if (2 * m + 1 >= h) break;
        // Row 2m + 1: ky = 0 from dy row m + 1 (when there is one), then ky = 2 from row m.
        int more = m + 1 < oh;
        if (more)
            for (int v = 0; v < V; v++) L(s2_spread)(&next_c[v], &next_f[v], grid + (m + 1) * wq + 8 * v);
        row += w;
        for (int v = 0; v < V; v++) {
            v16f acc = more ? L(s2_row_taps)((v16f){0}, wa[0], wb[0], next_c[v], next_f[v]) : (v16f){0};
            acc = L(s2_row_taps)(acc, wa[2], wb[2], cur_c[v], cur_f[v]);
            long n = w - 16 * v;
            if (row + 16 * v + 16 <= dx_end) L(store)(row + 16 * v, acc);
            else L(store_masked)(row + 16 * v, acc, n < 16 ? n : 16);
            cur_c[v] = next_c[v];
            cur_f[v] = next_f[v];
        }
    }
}

/// dx of one plane of a 3 × 3 kernel of stride 1 and padding 1 (h × w, w ≤ 16·V) straight
/// from dy's rows (h × w too): input row iy sums, from 0, kernel row ky on dy row iy + 1 − ky
/// (0 outside the plane), tap kx on dy column ix + 1 − kx, in (ky, kx) order, as the gathered
/// tap_grid; rows written whole up to dx_end.
static LOOM_INLINE void L(dx_s1k3_plane)(float *dx, const float *dy, const float *wc, long h, long w,
                                         const float *dx_end, const int V) {
    v16f wt[9];
    for (int t = 0; t < 9; t++) wt[t] = L(splat)(wc[t]);
    v16f top[2][3] = {{{0}, {0}, {0}}, {{0}, {0}, {0}}}, mid[2][3];
    L(s1_columns)(mid, dy, w, V);
    for (long iy = 0; iy < h; iy++) {
        v16f bottom[2][3] = {{{0}, {0}, {0}}, {{0}, {0}, {0}}};
        if (iy + 1 < h) L(s1_columns)(bottom, dy + (iy + 1) * w, w, V);
        float *row = dx + iy * w;
        for (int v = 0; v < V; v++) {
            v16f acc = {0};
            for (int kx = 0; kx < 3; kx++) acc += wt[kx] * bottom[v][2 - kx];
            for (int kx = 0; kx < 3; kx++) acc += wt[3 + kx] * mid[v][2 - kx];
            for (int kx = 0; kx < 3; kx++) acc += wt[6 + kx] * top[v][2 - kx];
            long n = w - 16 * v;
            if (row + 16 * v + 16 <= dx_end) L(store)(row + 16 * v, acc);
            else L(store_masked)(row + 16 * v, acc, n < 16 ? n : 16);
        }
        for (int v = 0; v < V; v++)
            for (int kx = 0; kx < 3; kx++) {
                top[v][kx] = mid[v][kx];
                mid[v][kx] = bottom[v][kx];
            }
    }
}

static void L(dx_s2k3)(float *dx, const float *grid, const float *wc, long h, long w, long wq, long oh,
                       const float *dx_end) {
    switch ((w + 15) / 16) {
    case 1: L(dx_s2k3_plane)(dx, grid, wc, h, w, wq, oh, dx_end, 1); break;
    case 2: L(dx_s2k3_plane)(dx, grid, wc, h, w, wq, oh, dx_end, 2); break;
    case 3: L(dx_s2k3_plane)(dx, grid, wc, h, w, wq, oh, dx_end, 3); break;
    default: L(dx_s2k3_plane)(dx, grid, wc, h, w, wq, oh, dx_end, 4); break;
    }
}
#endif

static LOOM_NO_MEMCPY void L(depthwise_backward)(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                                  const float *weight, size_t batch, const struct dw_geometry *g, float *scratch) {
    long k = g->k, s = g->stride, taps = k * k;
    float *planes = scratch, *dyp = planes + g->planes_floats, *row = dyp + g->dyp_floats;
    float *out_row = row + g->row_floats, *dplanes = out_row + g->row_floats;
    float *dxgrid = dplanes + g->dplanes_floats;
    float *wphase = dxgrid + g->dxgrid_floats;
    long *offset = (long *)(void *)(wphase + polyphase_round16(taps)), *dx_offset = offset + taps;
    // dx by phase: sub-plane (a, b) of the padded plane takes the taps ky ≡ a, kx ≡ b (mod s),
    // in (ky, kx) order (tap order[i], at −phase_offset[i] from its position in dy's grid).
    long *phase_offset = dx_offset + taps, *order = phase_offset + taps, *phase = order + taps;
    for (long a = 0, i = 0; a < s; a++)
        for (long b = 0; b < s; b++) {
            phase[a * s + b] = i;
            for (long ky = a; ky < k; ky += s)
                for (long kx = b; kx < k; kx += s, i++) {
                    order[i] = ky * k + kx;
                    phase_offset[i] = -((ky / s) * g->wq + kx / s);
                }
            phase[s * s] = i;
        }
    float *grid = dyp + g->lead;   // dy at grid index oy·wq + ox
    for (long ky = 0; ky < k; ky++)
        for (long kx = 0; kx < k; kx++) {
            offset[ky * k + kx] = ((ky % s) * s + kx % s) * g->plane_stride + (ky / s) * g->wq + kx / s;
            // The gathered dx (stride 1): input (iy, ix) at iy·wq + ix takes dy (iy + p − ky, ix + p − kx),
            // which lies at dyp index (iy + k − 1 − ky)·wq + ix + k − 1 − kx.
            dx_offset[ky * k + kx] = (k - 1 - ky) * g->wq + (k - 1 - kx);
        }
    long in_plane = g->h * g->w, out_plane = g->oh * g->ow;
#if LOOM_MASKED == 2
    const int rows16 = k == 3 && s == 1 && g->wq == 16 && g->dx_gather;
    const int direct_s2 = k == 3 && s == 2 && g->p == 1 && g->w <= 64;
    const int direct_s1 = k == 3 && s == 1 && g->p == 1 && g->w <= 32;
    const float *dx_all_end = dx ? dx + (long)batch * g->channels * in_plane : NULL;
#endif
    for (size_t n = 0; n < batch; n++) {
        for (long c = 0; c < g->channels; c++) {
            long plane = (long)n * g->channels + c;
            const float *xp = x + plane * in_plane, *dyp_in = dy + plane * out_plane;
            const float *wc = weight + c * taps;
#if LOOM_MASKED == 2
            if (rows16 && g->p == 1) {
                // 14-wide planes: no copies at all, x and dy straight from their rows.
                if (dbias) dbias[c] += loom_sum(dyp_in, (size_t)out_plane);
                L(dweight_rows14)(dweight + c * taps, dyp_in, xp, g->oh);
                if (dx) L(dx_s1k3_plane)(dx + plane * in_plane, dyp_in, wc, g->h, g->w, dx_all_end, 1);
                continue;
            }
#endif
            L(load_plane)(planes, g, xp, row);
            // dy on the output grid; its columns ow..<wq and the slack stay 0.
            for (long oy = 0; oy < g->oh; oy++)
                L(put_row)(grid + oy * g->wq, dyp_in + oy * g->ow, g->ow, dyp_in + out_plane);
            if (dbias) dbias[c] += loom_sum(dyp_in, (size_t)out_plane);
#if LOOM_MASKED == 2
            if (rows16) {
                L(dweight_rows16)(dweight + c * taps, grid, planes, g->oh);
                if (dx) {
                    float *dxp = dx + plane * in_plane, *dx_end = dxp + in_plane;
                    L(dx_rows16)(dxgrid, dyp, wc, g->h);
                    for (long iy = 0; iy < g->h; iy++) L(take_row)(dxp + iy * g->w, dxgrid + 16 * iy, g->w, dx_end);
                }
                continue;
            }
#endif
            long t = 0;
            for (; t + 4 <= taps; t += 4) L(dweight_taps)(dweight + c * taps + t, grid, planes, offset + t, g->grid, 4);
            switch (taps - t) {
            case 1: L(dweight_taps)(dweight + c * taps + t, grid, planes, offset + t, g->grid, 1); break;
            case 2: L(dweight_taps)(dweight + c * taps + t, grid, planes, offset + t, g->grid, 2); break;
            case 3: L(dweight_taps)(dweight + c * taps + t, grid, planes, offset + t, g->grid, 3); break;
            default: break;
            }
            if (!dx) continue;
            float *dxp = dx + plane * in_plane, *dx_end = dxp + in_plane;
#if LOOM_MASKED == 2
            if (direct_s1) {
                if (g->w <= 16) L(dx_s1k3_plane)(dxp, dyp_in, wc, g->h, g->w, dx_all_end, 1);
                else L(dx_s1k3_plane)(dxp, dyp_in, wc, g->h, g->w, dx_all_end, 2);
                continue;
            }
            if (direct_s2) {
                // Rows of later planes are written after this one's: whole vectors up to the
                // end of dx.
                L(dx_s2k3)(dxp, grid, wc, g->h, g->w, g->wq, g->oh, dx_all_end);
                continue;
            }
#endif
            if (g->dx_gather) {
                // Each input gathers its taps in (ky, kx) order from 0: the bits of the phases below.
                L(tap_grid)(dxgrid, dyp, dx_offset, wc, taps, 0.0f, g->dxgrid / 16);
                for (long iy = 0; iy < g->h; iy++) L(take_row)(dxp + iy * g->w, dxgrid + iy * g->wq, g->w, dx_end);
                continue;
            }
            // By phase: each input of sub-plane (a, b) sums, from 0, w·dy over the taps of its
            // phase that read it, in (ky, kx) order (a tap past dy's grid reads a 0 of its copy).
            for (long ph = 0; ph < s * s; ph++) {
                long t0 = phase[ph], count = phase[ph + 1] - t0;
                for (long i = 0; i < count; i++) wphase[i] = wc[order[t0 + i]];
                L(tap_grid)(dplanes + ph * g->plane_stride, grid, phase_offset + t0, wphase, count, 0.0f, g->sub_vectors);
            }
            for (long iy = 0; iy < g->h; iy++) {
                if (s == 1) {
                    L(take_row)(dxp + iy * g->w, dplanes + (iy + g->p) * g->wq + g->p, g->w, dx_end);
                } else if (s == 2) {
                    long r = iy + g->p;
                    L(take_row2)(dxp + iy * g->w, dplanes + (r % 2) * 2 * g->plane_stride + (r / 2) * g->wq,
                                 g->plane_stride, g->p, g->w, dx_end);
                } else {
                    L(gather_row)(out_row, g, iy + g->p, dplanes);
                    L(copy)(dxp + iy * g->w, out_row + g->p, g->w);
                }
            }
        }
    }
}

#undef L
