// The depthwise convolution with 16 channels in the 16 lanes of a vector, for planes the
// polyphase kernel of LayerBodies.h fills badly (dw_lanes_takes in LayerKernels.c). Included
// once per instruction path by LayerKernels.c, after LayerBodies.h, with LOOM_SUFFIX naming
// the path and a `target` attribute on every function.
//
// Per sample and block of 16 channels, the 16 input planes are transposed into a zero-padded
// plane of vectors (pixel (r, c) of the padded plane at vector r·wp + c, lane j = channel
// c0 + j, lanes past the last channel 0). A tap is then one vector load per output pixel
// and the weights are vectors (lane j = the filter of channel c0 + j): no lane computes a
// pixel outside the plane, whatever its width or the stride. The outputs go back into planes
// by the inverse transposition.
//
// - Forward: each output vector starts at the bias (or 0) and adds w·x per tap in (ky, kx)
//   order, padding read as 0: the same operations as the polyphase kernel, the same bits.
// - dx: dy is transposed into a plane with a border of k − 1 zero vectors, and each input
//   gathers, from 0, w·dy over the taps that read it, in (ky, kx) order. Its inputs are
//   grouped by phase ((iy + p) mod s, (ix + p) mod s), which fixes the taps that read them:
//   every tap of a phase is then one unit-stride row of dy. The terms of taps that read
//   padding are w·0: adding ±0 to a sum that starts at +0 never changes it, so the
//   polyphase kernel's dx gives the same bits for finite values.
// - dweight: per sample, channel and tap, the sum over output rows, in row order from 0, of
//   the row's sum over its columns, in column order from 0, of dy·x: a plain sum per lane.
//   The per-sample sums are added to dweight in sample order (a copy of it in vectors,
//   written back at the end of the call): the same bits however the batch is split into
//   calls.
// - dbias: per sample the sum of the dy plane (loom_sum), as the polyphase kernel.

#define L(name) LOOM_CAT(name, LOOM_SUFFIX)

// Register blocks: output vectors of a row per pass over the taps, and taps per pass over the
// plane of the weight gradient. They change how many values stay in registers, not one bit.
#if LOOM_MASKED == 2
#define LOOM_LANE_ROW 8
#define LOOM_LANE_TAPS 8
#elif LOOM_MASKED == 1
#define LOOM_LANE_ROW 4
#define LOOM_LANE_TAPS 3
#else
#define LOOM_LANE_ROW 2
#define LOOM_LANE_TAPS 2
#endif

/// The first n (1 ≤ n < 16) lanes of v to p, writing no further.
static inline void L(store_first)(float *p, v16f v, long n) {
#if LOOM_MASKED == 1
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 lo = (__m256)__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
    __m256 hi = (__m256)__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lanes), lo);
    _mm256_maskstore_ps(p + 8, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n - 8), lanes), hi);
#else
    L(store_masked)(p, v, n);
#endif
}

/// r[j] becomes column j of the 16 × 16 matrix whose row i was r[i]: interleaved pairs of
/// floats, then of float pairs, then 128-bit quarters twice.
static LOOM_INLINE void L(transpose16)(v16f r[16]) {
    v16f t[16], u[16], v[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28,
                                           13, 29);
        t[2 * i + 1] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14,
                                               30, 15, 31);
    }
    for (int i = 0; i < 4; i++) {
        for (int h = 0; h < 2; h++) {
            v16f a = t[4 * i + h], b = t[4 * i + h + 2];
            u[4 * i + 2 * h] = __builtin_shufflevector(a, b, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
            u[4 * i + 2 * h + 1] =
                __builtin_shufflevector(a, b, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
        }
    }
    // u[4i + j], quarter q: column 4q + j of rows 4i..4i+3.
    for (int j = 0; j < 4; j++) {
        for (int h = 0; h < 2; h++) {
            v16f a = u[8 * h + j], b = u[8 * h + 4 + j];
            v[8 * h + j] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
            v[8 * h + 4 + j] =
                __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
        }
    }
    for (int j = 0; j < 4; j++) {
        for (int h = 0; h < 2; h++) {
            v16f a = v[4 * h + j], b = v[8 + 4 * h + j];
            r[4 * h + j] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
            r[8 + 4 * h + j] =
                __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
        }
    }
}

/// nc (1 to 16) planes of `plane` pixels from src (plane c at src + c·plane) into vectors:
/// pixel i's channels to dst + 16·index[i], lanes nc..15 set to 0. A plane of 16 pixels or
/// more goes 16 pixels at a time, its last 16 pixels last (some of them a second time, with
/// the same values); a smaller one with masked loads, reading nothing past it.
static LOOM_NO_MEMCPY void L(lanes_in)(float *dst, const long *index, const float *src, long plane, long nc) {
    for (long i = 0; i < plane; i += 16) {
        long first = plane >= 16 && i + 16 > plane ? plane - 16 : i, m = plane - first < 16 ? plane - first : 16;
        v16f r[16];
        if (nc == 16 && m == 16) {
            for (int c = 0; c < 16; c++) r[c] = L(load)(src + c * plane + first);
        } else {
            for (int c = 0; c < 16; c++) {
                const float *p = src + c * plane + first;
                r[c] = c >= nc ? (v16f){0} : m == 16 ? L(load)(p) : L(load_masked)(p, m);
            }
        }
        L(transpose16)(r);
        if (m == 16) {
            for (int j = 0; j < 16; j++) L(store)(dst + 16 * index[first + j], r[j]);
        } else {
            for (long j = 0; j < m; j++) L(store)(dst + 16 * index[first + j], r[j]);
        }
    }
}

/// The inverse: pixel i's vector at src + 16·i to planes dst (plane c at dst + c·plane) for
/// the channels c < nc, writing nothing else.
static LOOM_NO_MEMCPY void L(lanes_out)(float *dst, const float *src, long plane, long nc) {
    for (long i = 0; i < plane; i += 16) {
        long first = plane >= 16 && i + 16 > plane ? plane - 16 : i, m = plane - first < 16 ? plane - first : 16;
        v16f r[16];
        if (m == 16) {
            for (int j = 0; j < 16; j++) r[j] = L(load)(src + 16 * (first + j));
        } else {
            for (int j = 0; j < 16; j++) r[j] = j < m ? L(load)(src + 16 * (first + j)) : (v16f){0};
        }
        L(transpose16)(r);
        if (nc == 16 && m == 16) {
            for (int c = 0; c < 16; c++) L(store)(dst + c * plane + first, r[c]);
        } else {
            for (int c = 0; c < 16; c++) {
                if (c >= nc) break;
                float *p = dst + c * plane + first;
                if (m == 16) L(store)(p, r[c]);
                else L(store_first)(p, r[c], m);
            }
        }
    }
}

/// R output vectors out + r·out_step: start, then + wv[t]·in[off[t] + r·in_step] for each tap
/// t in order (offsets and steps in floats), a product and a sum per tap.
static LOOM_INLINE void L(lane_taps)(float *out, long out_step, const float *in, long in_step, const long *off,
                                     const float *wv, long taps, v16f start, const int R) {
    v16f acc[8];
    for (int r = 0; r < R; r++) acc[r] = start;
    for (long t = 0; t < taps; t++) {
        v16f w = L(load)(wv + 16 * t);
        const float *p = in + off[t];
        for (int r = 0; r < R; r++) acc[r] += w * L(load)(p + r * in_step);
    }
    for (int r = 0; r < R; r++) L(store)(out + r * out_step, acc[r]);
}

/// `count` output vectors as lane_taps computes them, in register blocks of LOOM_LANE_ROW.
static void L(lane_row)(float *out, long out_step, const float *in, long in_step, const long *off, const float *wv,
                        long taps, v16f start, long count) {
    long i = 0;
    for (; i + LOOM_LANE_ROW <= count; i += LOOM_LANE_ROW)
        L(lane_taps)(out + i * out_step, out_step, in + i * in_step, in_step, off, wv, taps, start, LOOM_LANE_ROW);
    float *o = out + i * out_step;
    const float *p = in + i * in_step;
    switch (count - i) {
    case 1: L(lane_taps)(o, out_step, p, in_step, off, wv, taps, start, 1); break;
#if LOOM_LANE_ROW > 2
    case 2: L(lane_taps)(o, out_step, p, in_step, off, wv, taps, start, 2); break;
    case 3: L(lane_taps)(o, out_step, p, in_step, off, wv, taps, start, 3); break;
#endif
#if LOOM_LANE_ROW > 4
    case 4: L(lane_taps)(o, out_step, p, in_step, off, wv, taps, start, 4); break;
    case 5: L(lane_taps)(o, out_step, p, in_step, off, wv, taps, start, 5); break;
    case 6: L(lane_taps)(o, out_step, p, in_step, off, wv, taps, start, 6); break;
    case 7: L(lane_taps)(o, out_step, p, in_step, off, wv, taps, start, 7); break;
#endif
    default: break;
    }
}

/// For T taps (offsets off into the padded x plane): sum[t] = the sum over output rows, in
/// order from 0, of the row's sum over its columns, in order from 0, of dy·x. The taps share
/// each load of dy.
static LOOM_INLINE void L(lane_dweight)(float *sum, const float *dyv, long dy_row, const float *xv, long x_row, long s,
                                        const long *off, long oh, long ow, const int T) {
    v16f total[8];
    for (int t = 0; t < T; t++) total[t] = (v16f){0};
    for (long oy = 0; oy < oh; oy++) {
        v16f row[8];
        for (int t = 0; t < T; t++) row[t] = (v16f){0};
        const float *d = dyv + oy * dy_row, *x = xv + oy * s * x_row;
        for (long ox = 0; ox < ow; ox++) {
            v16f g = L(load)(d + 16 * ox);
            for (int t = 0; t < T; t++) row[t] += g * L(load)(x + off[t] + 16 * s * ox);
        }
        for (int t = 0; t < T; t++) total[t] += row[t];
    }
    for (int t = 0; t < T; t++) L(store)(sum + 16 * t, total[t]);
}

static void L(lane_dweight_block)(float *sum, const float *dyv, long dy_row, const float *xv, long x_row, long s,
                                  const long *off, long oh, long ow, long count) {
    switch (count) {
    case 1: L(lane_dweight)(sum, dyv, dy_row, xv, x_row, s, off, oh, ow, 1); break;
    case 2: L(lane_dweight)(sum, dyv, dy_row, xv, x_row, s, off, oh, ow, 2); break;
#if LOOM_LANE_TAPS > 2
    case 3: L(lane_dweight)(sum, dyv, dy_row, xv, x_row, s, off, oh, ow, 3); break;
#endif
#if LOOM_LANE_TAPS > 3
    case 4: L(lane_dweight)(sum, dyv, dy_row, xv, x_row, s, off, oh, ow, 4); break;
    case 5: L(lane_dweight)(sum, dyv, dy_row, xv, x_row, s, off, oh, ow, 5); break;
    case 6: L(lane_dweight)(sum, dyv, dy_row, xv, x_row, s, off, oh, ow, 6); break;
    case 7: L(lane_dweight)(sum, dyv, dy_row, xv, x_row, s, off, oh, ow, 7); break;
    case 8: L(lane_dweight)(sum, dyv, dy_row, xv, x_row, s, off, oh, ow, 8); break;
#endif
    default: break;
    }
}

#if LOOM_MASKED == 2
// Register-blocked forms of lane_dweight and of lane_row for y and dx (AVX-512, 32 registers), for
// kernels 3 and 5 of stride 1 or 2 and output rows of at most 16 vectors: a row of dy stays
// in registers and each vector of x (dweight) or of dy (dx) is loaded once for all the taps
// of a kernel row that use it, about half a load per multiply-add where the loops above
// make more than one. The same products, summed in the same order: the same bits.
#define LOOM_UNROLL _Pragma("clang loop unroll(full)")

/// sum[16·(ky·K + kx)] for the taps of kernel row ky, as lane_dweight computes them, for
/// output rows of OW (≤ 16) vectors.
static LOOM_INLINE void L(lane_dweight_rows)(float *sum, const float *dyv, long dy_row, const float *xv, long x_row,
                                             long oh, long ky, const struct dw_ahead *ahead, const int K, const int S,
                                             const int OW) {
    v16f total[5];
    LOOM_UNROLL for (int kx = 0; kx < K; kx++) total[kx] = (v16f){0};
    for (long oy = 0; oy < oh; oy++) {
        // A share of the next block's lines asked for per output row.
        for (int i = 0; i < 2; i++) {
            long part = (ahead->n[i] + oh - 1) / oh, lo = oy * part, hi = lo + part < ahead->n[i] ? lo + part : ahead->n[i];
            for (long f = lo; f < hi; f += 16) _mm_prefetch((const char *)(ahead->p[i] + f), _MM_HINT_T1);
        }
        const float *d = dyv + oy * dy_row, *x = xv + (oy * S + ky) * x_row;
        v16f g[16], row[5];
        LOOM_UNROLL for (int j = 0; j < OW; j++) g[j] = L(load)(d + 16 * j);
        LOOM_UNROLL for (int kx = 0; kx < K; kx++) row[kx] = (v16f){0};
        // Column c of x's row serves tap kx at output column (c − kx) / S: the row sums still
        // take their columns in order.
        LOOM_UNROLL for (int c = 0; c < (OW - 1) * S + K; c++) {
            v16f xc = L(load)(x + 16 * c);
            LOOM_UNROLL for (int kx = 0; kx < K; kx++)
                if (c >= kx && (c - kx) % S == 0 && (c - kx) / S < OW) row[kx] += g[(c - kx) / S] * xc;
        }
        LOOM_UNROLL for (int kx = 0; kx < K; kx++) total[kx] += row[kx];
    }
    LOOM_UNROLL for (int kx = 0; kx < K; kx++) L(store)(sum + 16 * (ky * K + kx), total[kx]);
}

/// R (≤ 8) outputs (out + r·out_step) of dx's phase (a, b), as lane_row computes them: for
/// each kernel row ky ≡ a (mod S) of the phase, dy's row (column 0 at dyrow − 16·jy·dwp,
/// jy = (ky − a) / S) is loaded once and shared by the row's taps kx ≡ b, whose weights come
/// in phase order from wv.
static LOOM_INLINE void L(lane_dx_rows)(float *out, long out_step, const float *dyrow, long dwp, const float *wv,
                                        long a, long b, const int K, const int S, const int R) {
    const int J = (K - 1) / S;   // the most rows and columns a phase's taps reach back
    v16f acc[8];
    LOOM_UNROLL for (int r = 0; r < R; r++) acc[r] = (v16f){0};
    LOOM_UNROLL for (int jy = 0; jy <= J; jy++) {
        if (a + jy * S < K) {
            // Columns −J..R − 1 of this kernel row: d[m + J] holds column m.
            const float *p = dyrow - 16 * jy * dwp;
            v16f d[8 + 4];
            LOOM_UNROLL for (int m = 0; m < R + J; m++) d[m] = L(load)(p + 16 * (m - J));
            LOOM_UNROLL for (int jx = 0; jx <= J; jx++) {
                if (b + jx * S < K) {
                    v16f w = L(load)(wv);
                    wv += 16;
                    LOOM_UNROLL for (int r = 0; r < R; r++) acc[r] += w * d[r - jx + J];
                }
            }
        }
    }
    LOOM_UNROLL for (int r = 0; r < R; r++) L(store)(out + r * out_step, acc[r]);
}

/// R (≤ 8) output vectors of y's row (out + 16·r), as lane_row computes them: the start, then
/// each tap in (ky, kx) order. Per kernel row the K weights stay in registers and each vector
/// of x's row (column 0 at xrow + 16·ky·wp) is loaded once for the taps that read it.
static LOOM_INLINE void L(lane_y_rows)(float *out, const float *xrow, long wp, const float *wv, v16f start,
                                       const int K, const int S, const int R) {
    v16f acc[8];
    LOOM_UNROLL for (int r = 0; r < R; r++) acc[r] = start;
    LOOM_UNROLL for (int ky = 0; ky < K; ky++) {
        const float *p = xrow + 16 * ky * wp;
        v16f w[5];
        LOOM_UNROLL for (int kx = 0; kx < K; kx++) w[kx] = L(load)(wv + 16 * (ky * K + kx));
        // Column c serves tap kx of output (c − kx) / S: each output still takes kx in order.
        LOOM_UNROLL for (int c = 0; c < (R - 1) * S + K; c++) {
            v16f xc = L(load)(p + 16 * c);
            LOOM_UNROLL for (int kx = 0; kx < K; kx++)
                if (c >= kx && (c - kx) % S == 0 && (c - kx) / S < R) acc[(c - kx) / S] += w[kx] * xc;
        }
    }
    LOOM_UNROLL for (int r = 0; r < R; r++) L(store)(out + 16 * r, acc[r]);
}

#define LOOM_CASES8(call) call(1) call(2) call(3) call(4) call(5) call(6) call(7) call(8)
#define LOOM_CASES16(call) LOOM_CASES8(call) call(9) call(10) call(11) call(12) call(13) call(14) call(15) call(16)

/// lane_dweight_rows for a row length ow (1 to 16) known only at run time.
static LOOM_INLINE void L(lane_dweight_rows_n)(float *sum, const float *dyv, long dy_row, const float *xv, long x_row,
                                               long oh, long ky, const struct dw_ahead *ahead, const int K, const int S,
                                               long ow) {
    switch (ow) {
#define LOOM_CASE(n)                                                                                              \
    case n: L(lane_dweight_rows)(sum, dyv, dy_row, xv, x_row, oh, ky, ahead, K, S, n); break;
        LOOM_CASES16(LOOM_CASE)
#undef LOOM_CASE
    default: break;
    }
}

/// lane_dx_rows for R outputs known only at run time, 8 at a time.
static LOOM_INLINE void L(lane_dx_rows_n)(float *out, long out_step, const float *dyrow, long dwp, const float *wv,
                                          long a, long b, const int K, const int S, long R) {
    for (long r0 = 0; r0 < R; r0 += 8) {
        switch (R - r0 < 8 ? R - r0 : 8) {
#define LOOM_CASE(n)                                                                                              \
    case n: L(lane_dx_rows)(out + r0 * out_step, out_step, dyrow + 16 * r0, dwp, wv, a, b, K, S, n); break;
            LOOM_CASES8(LOOM_CASE)
#undef LOOM_CASE
        default: break;
        }
    }
}

/// The kernel row ky of the weight gradient, by the register-blocked rows.
static void L(lane_dweight_row)(float *sum, const float *dyv, long dy_row, const float *xv, long x_row,
                                const struct dw_lanes *g, long ky, const struct dw_ahead *ahead) {
    switch (g->k * 4 + g->stride) {
    case 13: L(lane_dweight_rows_n)(sum, dyv, dy_row, xv, x_row, g->oh, ky, ahead, 3, 1, g->ow); break;
    case 14: L(lane_dweight_rows_n)(sum, dyv, dy_row, xv, x_row, g->oh, ky, ahead, 3, 2, g->ow); break;
    case 21: L(lane_dweight_rows_n)(sum, dyv, dy_row, xv, x_row, g->oh, ky, ahead, 5, 1, g->ow); break;
    case 22: L(lane_dweight_rows_n)(sum, dyv, dy_row, xv, x_row, g->oh, ky, ahead, 5, 2, g->ow); break;
    default: break;
    }
}

/// R outputs of dx's phase (a, b), by the register-blocked rows.
static void L(lane_dx_phase)(float *out, long out_step, const float *dyrow, const float *wv, const struct dw_lanes *g,
                             long a, long b, long R) {
    switch (g->k * 4 + g->stride) {
    case 13: L(lane_dx_rows_n)(out, out_step, dyrow, g->dwp, wv, a, b, 3, 1, R); break;
    case 14: L(lane_dx_rows_n)(out, out_step, dyrow, g->dwp, wv, a, b, 3, 2, R); break;
    case 21: L(lane_dx_rows_n)(out, out_step, dyrow, g->dwp, wv, a, b, 5, 1, R); break;
    case 22: L(lane_dx_rows_n)(out, out_step, dyrow, g->dwp, wv, a, b, 5, 2, R); break;
    default: break;
    }
}

/// lane_y_rows for a row of ow outputs known only at run time, 8 at a time.
static LOOM_INLINE void L(lane_y_rows_n)(float *out, const float *xrow, long wp, const float *wv, v16f start,
                                         const int K, const int S, long ow) {
    for (long r0 = 0; r0 < ow; r0 += 8) {
        switch (ow - r0 < 8 ? ow - r0 : 8) {
#define LOOM_CASE(n)                                                                                              \
    case n: L(lane_y_rows)(out + 16 * r0, xrow + 16 * r0 * S, wp, wv, start, K, S, n); break;
            LOOM_CASES8(LOOM_CASE)
#undef LOOM_CASE
        default: break;
        }
    }
}

/// A row of y by the register-blocked rows.
static void L(lane_y_row)(float *out, const float *xrow, const float *wv, v16f start, const struct dw_lanes *g) {
    switch (g->k * 4 + g->stride) {
    case 13: L(lane_y_rows_n)(out, xrow, g->wp, wv, start, 3, 1, g->ow); break;
    case 14: L(lane_y_rows_n)(out, xrow, g->wp, wv, start, 3, 2, g->ow); break;
    case 21: L(lane_y_rows_n)(out, xrow, g->wp, wv, start, 5, 1, g->ow); break;
    case 22: L(lane_y_rows_n)(out, xrow, g->wp, wv, start, 5, 2, g->ow); break;
    default: break;
    }
}

/// Whether the register-blocked rows take a shape: kernels 3 and 5 of stride 1 or 2, output
/// rows of at most 16 vectors.
static inline int L(lane_rows_take)(const struct dw_lanes *g) {
    return (g->k == 3 || g->k == 5) && (g->stride == 1 || g->stride == 2) && g->ow <= 16;
}
#undef LOOM_CASES8
#undef LOOM_CASES16
#undef LOOM_UNROLL
#endif

/// Asks for the cache lines of [p, p + n) (n floats) ahead of their use: the transposition
/// reads 16 planes side by side, a pattern the hardware prefetchers do not follow.
static inline void L(prefetch)(const float *p, long n) {
    for (long i = 0; i < n; i += 16) _mm_prefetch((const char *)(p + i), _MM_HINT_T1);
}

/// The same for lines about to be written.
static inline void L(prefetch_write)(const float *p, long n) {
    for (long i = 0; i < n; i += 16) _m_prefetchw((const void *)(p + i));
}

static LOOM_NO_MEMCPY void L(depthwise_lanes_forward)(float *y, const float *x, const float *weight, const float *bias,
                                                      size_t batch, const struct dw_lanes *g, float *scratch) {
    struct dw_lanes_scratch m = dw_lanes_scratch(g, scratch);
    long taps = g->taps, in_plane = g->h * g->w, out_plane = g->oh * g->ow;
    dw_lanes_weights(m.weight, weight, g, 0);
    v16f zero = {0};
    long total = (long)batch * g->channels * in_plane;
#if LOOM_MASKED == 2
    const int rows = L(lane_rows_take)(g);
#endif
    for (size_t n = 0; n < batch; n++) {
        for (long b = 0; b < g->blocks; b++) {
            long c0 = 16 * b, nc = g->channels - c0 < 16 ? g->channels - c0 : 16;
            long first = (long)n * g->channels + c0;
            v16f start = zero;
            if (bias)
                for (long j = 0; j < nc; j++) start[j] = bias[c0 + j];
            L(lanes_in)(m.x, m.x_index, x + first * in_plane, in_plane, nc);
            // The next block's planes are asked for, a slice per output row, while the taps run.
            long next_at = (first + nc) * in_plane, left = total - next_at < 16 * in_plane ? total - next_at : 16 * in_plane;
            const float *next = x + (left > 0 ? next_at : 0);
            long slice = (in_plane + g->oh - 1) / g->oh * 16;
            for (long oy = 0; oy < g->oh; oy++) {
                if (oy * slice < left) L(prefetch)(next + oy * slice, oy * slice + slice > left ? left - oy * slice : slice);
                // And this block's lines of y, for the transposition out.
                if (oy * 16 * g->ow < nc * out_plane)
                    L(prefetch_write)(y + first * out_plane + oy * 16 * g->ow, 16 * g->ow);
#if LOOM_MASKED == 2
                if (rows) {
                    L(lane_y_row)(m.y + 16 * oy * g->ow, m.x + 16 * oy * g->stride * g->wp, m.weight + 16 * b * taps, start, g);
                    continue;
                }
#endif
                L(lane_row)(m.y + 16 * oy * g->ow, 16, m.x + 16 * oy * g->stride * g->wp, 16 * g->stride, m.offset,
                            m.weight + 16 * b * taps, taps, start, g->ow);
            }
            L(lanes_out)(y + first * out_plane, m.y, out_plane, nc);
        }
    }
}

static LOOM_NO_MEMCPY void L(depthwise_lanes_backward)(float *dx, float *dweight, float *dbias, const float *dy,
                                                       const float *x, const float *weight, size_t batch,
                                                       const struct dw_lanes *g, float *scratch) {
    struct dw_lanes_scratch m = dw_lanes_scratch(g, scratch);
    long taps = g->taps, s = g->stride, in_plane = g->h * g->w, out_plane = g->oh * g->ow, border = g->k - 1;
    if (dx) dw_lanes_weights(m.weight, weight, g, 1);
    dw_lanes_weights(m.dweight, dweight, g, 0);
    v16f zero = {0};
    const float *dy_interior = m.dy + 16 * (border * g->dwp + border);
#if LOOM_MASKED == 2
    const int rows = L(lane_rows_take)(g);
#endif
    long x_total = (long)batch * g->channels * in_plane, dy_total = (long)batch * g->channels * out_plane;
    for (size_t n = 0; n < batch; n++) {
        for (long b = 0; b < g->blocks; b++) {
            long c0 = 16 * b, nc = g->channels - c0 < 16 ? g->channels - c0 : 16;
            long first = (long)n * g->channels + c0;
            L(lanes_in)(m.x, m.x_index, x + first * in_plane, in_plane, nc);
            L(lanes_in)(m.dy, m.dy_index, dy + first * out_plane, out_plane, nc);
            if (dbias)
                for (long j = 0; j < nc; j++) dbias[c0 + j] += loom_sum(dy + (first + j) * out_plane, (size_t)out_plane);
            // The next block's x and dy are asked for, a slice per block of taps, while they run.
            long x_left = x_total - (first + nc) * in_plane, dy_left = dy_total - (first + nc) * out_plane;
            if (x_left > 16 * in_plane) x_left = 16 * in_plane;
            if (dy_left > 16 * out_plane) dy_left = 16 * out_plane;
            const float *next_x = x + (x_left > 0 ? (first + nc) * in_plane : 0);
            const float *next_dy = dy + (dy_left > 0 ? (first + nc) * out_plane : 0);
#if LOOM_MASKED == 2
            if (rows) {
                // The weight gradient a kernel row at a time, a slice of the next block asked for per
                // output row.
                long x_slice = (x_left + g->k - 1) / g->k, dy_slice = (dy_left + g->k - 1) / g->k;
                for (long ky = 0; ky < g->k; ky++) {
                    struct dw_ahead ahead = {{next_x + ky * x_slice, next_dy + ky * dy_slice}, {0, 0}};
                    if (ky * x_slice < x_left) ahead.n[0] = (ky + 1) * x_slice > x_left ? x_left - ky * x_slice : x_slice;
                    if (ky * dy_slice < dy_left)
                        ahead.n[1] = (ky + 1) * dy_slice > dy_left ? dy_left - ky * dy_slice : dy_slice;
                    L(lane_dweight_row)(m.sums, dy_interior, 16 * g->dwp, m.x, 16 * g->wp, g, ky, &ahead);
                }
            } else
#endif
            {
            // The weight gradient, taps in blocks of about equal size.
            long blocks = (taps + LOOM_LANE_TAPS - 1) / LOOM_LANE_TAPS;
            long x_slice = (x_left + blocks - 1) / blocks, dy_slice = (dy_left + blocks - 1) / blocks;
            for (long i = 0, t = 0; i < blocks; i++) {
                if (i * x_slice < x_left)
                    L(prefetch)(next_x + i * x_slice, (i + 1) * x_slice > x_left ? x_left - i * x_slice : x_slice);
                if (i * dy_slice < dy_left)
                    L(prefetch)(next_dy + i * dy_slice, (i + 1) * dy_slice > dy_left ? dy_left - i * dy_slice : dy_slice);
                long count = (taps - t) / (blocks - i);
                L(lane_dweight_block)(m.sums + 16 * t, dy_interior, 16 * g->dwp, m.x, 16 * g->wp, s, m.offset + t,
                                      g->oh, g->ow, count);
                t += count;
            }
            }
            float *acc = m.dweight + 16 * b * taps;
            for (long t = 0; t < taps; t++) L(store)(acc + 16 * t, L(load)(acc + 16 * t) + L(load)(m.sums + 16 * t));
            if (!dx) continue;
            // dx: per input row and column phase, each tap of the phase one unit-stride row of dy.
            const float *wv = m.weight + 16 * b * taps;
            for (long iy = 0; iy < g->h; iy++) {
                if (iy * 16 * g->w < nc * in_plane) L(prefetch_write)(dx + first * in_plane + iy * 16 * g->w, 16 * g->w);
                long a = (iy + g->p) % s, ry = (iy + g->p) / s;
                for (long c = 0; c < s; c++) {
                    long ix0 = ((c - g->p) % s + s) % s;
                    if (ix0 >= g->w) continue;
                    long phase = a * s + c, t0 = m.phase[phase], count = m.phase[phase + 1] - t0;
#if LOOM_MASKED == 2
                    if (rows) {
                        const float *dyrow = m.dy + 16 * ((ry + border) * g->dwp + (ix0 + g->p) / s + border);
                        L(lane_dx_phase)(m.dx + 16 * (iy * g->w + ix0), 16 * s, dyrow, wv + 16 * t0, g, a, c,
                                         (g->w - ix0 + s - 1) / s);
                        continue;
                    }
#endif
                    L(lane_row)(m.dx + 16 * (iy * g->w + ix0), 16 * s, m.dy + 16 * (ry * g->dwp + (ix0 + g->p) / s), 16,
                                m.dx_offset + t0, wv + 16 * t0, count, zero, (g->w - ix0 + s - 1) / s);
                }
            }
            L(lanes_out)(dx + first * in_plane, m.dx, in_plane, nc);
        }
    }
    for (long c = 0; c < g->channels; c++)
        for (long t = 0; t < taps; t++) dweight[c * taps + t] = m.dweight[16 * ((c / 16) * taps + t) + c % 16];
}

#undef LOOM_LANE_ROW
#undef LOOM_LANE_TAPS
#undef L
