// The bodies of the direct convolution (CKernelsConv.h), included once per instruction path by
// ConvKernels.c with LOOM_SUFFIX naming the path, CV_VB the most vectors of the output grid a
// register block holds on that path, and a `target` attribute on every function. Register
// blocks choose only which outputs are computed together, never the order of an output's
// terms, so the blocking of a path does not change a bit. Every term is one fused
// multiply-add (a·b + c rounded once), on every path.

#define CV_CAT2(a, b) a##_##b
#define CV_CAT(a, b) CV_CAT2(a, b)
#define CV(name) CV_CAT(name, LOOM_SUFFIX)

// Plane and row copies are a few to a few hundred floats: plain loops, never a memcpy call.
#define CV_NO_MEMCPY __attribute__((no_builtin("memcpy"), no_builtin("memset")))

static inline v16f CV(load)(const float *p) { v16f v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void CV(store)(float *p, v16f v) { __builtin_memcpy(p, &v, sizeof v); }

/// a·b + c with one rounding (IEEE fusedMultiplyAdd): one instruction on the AVX2 and AVX-512
/// paths (their targets include FMA), the C library's correctly rounded fmaf per lane on
/// SSE2. The same bits either way.
static inline v16f CV(fma)(v16f a, v16f b, v16f c) { return __builtin_elementwise_fma(a, b, c); }

/// x in all 16 lanes, bit for bit.
static inline v16f CV(splat)(float x) {
    v16f v;
    for (int i = 0; i < 16; i++) v[i] = x;
    return v;
}

/// Lanes i and i+8, then i and i+4, then i and i+2, then 0 and 1 (KernelBodies.h's hsum).
static inline float CV(hsum)(v16f v) {
    float a[16], b[8], c[4];
    __builtin_memcpy(a, &v, sizeof a);
    for (int i = 0; i < 8; i++) b[i] = a[i] + a[i + 8];
    for (int i = 0; i < 4; i++) c[i] = b[i] + b[i + 4];
    return (c[0] + c[2]) + (c[1] + c[3]);
}

/// r[j] = hsum(a[j]) for 16 vectors at once: the same additions in the same order as hsum
/// (lanes i and i+8, then i and i+4, then i and i+2, then 0 and 1), done 16 lanes wide.
static inline v16f CV(hsum16)(const v16f *a) {
    v16f b[8], c[4], d[2];
    for (int j = 0; j < 8; j++) {
        v16f x = a[2 * j], y = a[2 * j + 1];
        b[j] = __builtin_shufflevector(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
             + __builtin_shufflevector(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    }
    for (int m = 0; m < 4; m++) {
        v16f x = b[2 * m], y = b[2 * m + 1];
        c[m] = __builtin_shufflevector(x, y, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
             + __builtin_shufflevector(x, y, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    }
    for (int u = 0; u < 2; u++) {
        v16f x = c[2 * u], y = c[2 * u + 1];
        d[u] = __builtin_shufflevector(x, y, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29)
             + __builtin_shufflevector(x, y, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
    }
    return __builtin_shufflevector(d[0], d[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
         + __builtin_shufflevector(d[0], d[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

/// One sample's planes x (C, H, W) into the polyphase copy. Only the positions of the image
/// are written: the padding stays 0 from the scratch's allocation. Rows of a phase no tap
/// reads (k < s: a 1×1 stride-2 convolution reads only the even rows) are skipped.
static CV_NO_MEMCPY void CV(load_planes)(float *planes, const float *x, const struct cv_geometry *g) {
    long s = g->s, p = g->p;
    if (g->compact) {
        // k copies of each plane, rows of W floats after the lead and p zero rows; copy kx
        // with its wrap-around columns set to 0 (ConvKernels.c). The plane is one flat copy.
        long hw = g->h * g->w;
        for (long c = 0; c < g->c; c++) {
            const float *src = x + c * hw;
            for (long kx = 0; kx < g->k; kx++) {
                float *d = planes + c * g->chan_stride + kx * g->plane_stride + g->lead + p * g->w;
                long i = 0;
                for (; i + 16 <= hw; i += 16) CV(store)(d + i, CV(load)(src + i));
                for (; i < hw; i++) d[i] = src[i];
                long from = kx < p ? g->w - (p - kx) : 0, to = kx < p ? g->w : kx - p;
                for (long iy = 0; iy < g->h; iy++) {
                    for (long ix = from; ix < to; ix++) d[iy * g->w + ix] = 0;
                }
            }
        }
        return;
    }
    for (long c = 0; c < g->c; c++) {
        float *dst = planes + c * g->chan_stride;
        const float *src = x + c * g->h * g->w;
        for (long iy = 0; iy < g->h; iy++) {
            const float *row = src + iy * g->w;
            long r = iy + p;
            if (s == 1) {
                float *d = dst + r * g->wq + p;
                for (long ix = 0; ix < g->w; ix++) d[ix] = row[ix];
                continue;
            }
            if (r % s >= g->k) continue;
            float *d = dst + (r % s) * s * g->plane_stride + (r / s) * g->wq;
            if (s == 2) {
                // Columns q = ix + p: even q to sub-plane 0, odd q to sub-plane 1, at q / 2.
                float *even = d, *odd = d + g->plane_stride;
                long ix = 0;
                if (p % 2 == 1) {
                    odd[p / 2] = row[0];
                    ix = 1;
                }
                // Now ix + p is even: pairs (ix, ix + 1) go to even[j], odd[j], j = (ix + p) / 2.
                long j = (ix + p) / 2;
                for (; ix + 32 <= g->w; ix += 32, j += 16) {
                    v16f a = CV(load)(row + ix), b = CV(load)(row + ix + 16);
                    CV(store)(even + j, __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
                    CV(store)(odd + j, __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
                }
                for (; ix + 1 < g->w; ix += 2, j++) {
                    even[j] = row[ix];
                    odd[j] = row[ix + 1];
                }
                if (ix < g->w) even[j] = row[ix];
            } else {
                for (long ix = 0; ix < g->w; ix++) {
                    long q = ix + p;
                    d[(q % s) * g->plane_stride + q / s] = row[ix];
                }
            }
        }
    }
}

// MARK: - Forward

/// CV_OCB output channels × VB vectors of the grid: out[o][v] = bias[o], then
/// + w[o, c, t]·in[c][off[t] + 16v] for c in order and t in order. `w` is packed
/// (C, taps, CV_OCB); `out` rows are `out_stride` floats apart.
#define CV_FORWARD_BLOCK(VB)                                                                        \
    static inline void CV(forward_block_##VB)(float *out, long out_stride, const float *in,           \
                                              const long *off, long taps, long channels,              \
                                              long chan_stride, const float *w, const float *bias) {  \
        v16f acc[CV_OCB][VB];                                                                         \
        for (int o = 0; o < CV_OCB; o++) {                                                            \
            v16f b = CV(splat)(bias[o]);                                                              \
            for (int v = 0; v < VB; v++) acc[o][v] = b;                                               \
        }                                                                                             \
        for (long c = 0; c < channels; c++) {                                                         \
            const float *pc = in + c * chan_stride;                                                   \
            for (long t = 0; t < taps; t++) {                                                         \
                const float *pt = pc + off[t];                                                        \
                v16f xv[VB];                                                                          \
                for (int v = 0; v < VB; v++) xv[v] = CV(load)(pt + 16 * v);                           \
                for (int o = 0; o < CV_OCB; o++) {                                                    \
                    v16f wv = CV(splat)(w[o]);                                                        \
                    for (int v = 0; v < VB; v++) acc[o][v] = CV(fma)(wv, xv[v], acc[o][v]);                             \
                }                                                                                     \
                w += CV_OCB;                                                                          \
            }                                                                                         \
        }                                                                                             \
        for (int o = 0; o < CV_OCB; o++) {                                                            \
            for (int v = 0; v < VB; v++) CV(store)(out + o * out_stride + 16 * v, acc[o][v]);         \
        }                                                                                             \
    }

CV_FORWARD_BLOCK(1)
CV_FORWARD_BLOCK(2)
CV_FORWARD_BLOCK(3)
CV_FORWARD_BLOCK(4)
CV_FORWARD_BLOCK(5)

static CV_NO_MEMCPY void CV(conv_forward)(float *y, const float *x, const float *wpack, const float *bpack, size_t batch,
                                          const struct cv_geometry *g, float *planes, float *grid, const long *off) {
    long packed_block = g->c * g->taps * CV_OCB;
    // Compact, with a grid of exactly OH·OW outputs and whole blocks of output channels: the
    // register blocks store straight into y.
    int straight = g->compact && g->grid == g->oh * g->ow && g->oc % CV_OCB == 0;
    for (size_t n = 0; n < batch; n++) {
        CV(load_planes)(planes, x + (long)n * g->c * g->h * g->w, g);
        float *yn = y + (long)n * g->oc * g->oh * g->ow;
        float *dest = straight ? yn : grid;
        for (long gb = 0; gb < g->grid;) {
            long vb = (g->grid - gb) / 16;
            if (vb > CV_VB) vb = CV_VB;
            for (long ob = 0; ob < g->oc_blocks; ob++) {
                float *out = dest + ob * CV_OCB * g->grid + gb;
                const float *w = wpack + ob * packed_block, *b = bpack + ob * CV_OCB;
                switch (vb) {
                case 1: CV(forward_block_1)(out, g->grid, planes + gb, off, g->taps, g->c, g->chan_stride, w, b); break;
                case 2: CV(forward_block_2)(out, g->grid, planes + gb, off, g->taps, g->c, g->chan_stride, w, b); break;
                case 3: CV(forward_block_3)(out, g->grid, planes + gb, off, g->taps, g->c, g->chan_stride, w, b); break;
                case 4: CV(forward_block_4)(out, g->grid, planes + gb, off, g->taps, g->c, g->chan_stride, w, b); break;
                default: CV(forward_block_5)(out, g->grid, planes + gb, off, g->taps, g->c, g->chan_stride, w, b); break;
                }
            }
            gb += vb * 16;
        }
        if (straight) continue;
        if (g->compact) {
            // Rows of exactly OW: each channel's outputs are the grid's first OH·OW floats.
            long ohw = g->oh * g->ow;
            for (long o = 0; o < g->oc; o++) {
                const float *src = grid + o * g->grid;
                float *dst = yn + o * ohw;
                long i = 0;
                for (; i + 16 <= ohw; i += 16) CV(store)(dst + i, CV(load)(src + i));
                for (; i < ohw; i++) dst[i] = src[i];
            }
            continue;
        }
        for (long o = 0; o < g->oc; o++) {
            for (long oy = 0; oy < g->oh; oy++) {
                const float *src = grid + o * g->grid + oy * g->wq;
                float *dst = yn + (o * g->oh + oy) * g->ow;
                for (long ox = 0; ox < g->ow; ox++) dst[ox] = src[ox];
            }
        }
    }
}

// MARK: - Weight gradient

/// OB output channels × TB taps of one input channel: sample[o][t] = the 16-lane dot of
/// dy's grid row o and the input at off[t], lanes added by hsum.
#define CV_WEIGHT_BLOCK(OB, TB)                                                                          \
    static inline void CV(weight_block_##OB##_##TB)(float *sample, long sample_stride, const float *dyg,   \
                                                    long grid, const float *in, const long *off) {         \
        v16f acc[OB][TB];                                                                                  \
        for (int o = 0; o < OB; o++) {                                                                     \
            for (int t = 0; t < TB; t++) acc[o][t] = (v16f){0};                                            \
        }                                                                                                  \
        for (long gv = 0; gv < grid; gv += 16) {                                                           \
            v16f d[OB];                                                                                    \
            for (int o = 0; o < OB; o++) d[o] = CV(load)(dyg + o * grid + gv);                             \
            for (int t = 0; t < TB; t++) {                                                                 \
                v16f xv = CV(load)(in + off[t] + gv);                                                      \
                for (int o = 0; o < OB; o++) acc[o][t] = CV(fma)(d[o], xv, acc[o][t]);                                       \
            }                                                                                              \
        }                                                                                                  \
        for (int o = 0; o < OB; o++) {                                                                     \
            for (int t = 0; t < TB; t++) sample[o * sample_stride + t] = CV(hsum)(acc[o][t]);              \
        }                                                                                                  \
    }

/// Two output channels × the 9 taps of a 3×3 kernel: as CV_WEIGHT_BLOCK(2, 9), with 16 of
/// the 18 lane sums done by hsum16.
static inline void CV(weight_block_2_9)(float *sample, long sample_stride, const float *dyg, long grid,
                                        const float *in, const long *off) {
    v16f acc[18];
    for (int i = 0; i < 18; i++) acc[i] = (v16f){0};
    for (long gv = 0; gv < grid; gv += 16) {
        v16f d0 = CV(load)(dyg + gv), d1 = CV(load)(dyg + grid + gv);
        for (int t = 0; t < 8; t++) {
            v16f xv = CV(load)(in + off[t] + gv);
            acc[t] = CV(fma)(d0, xv, acc[t]);
            acc[8 + t] = CV(fma)(d1, xv, acc[8 + t]);
        }
        v16f xv = CV(load)(in + off[8] + gv);
        acc[16] = CV(fma)(d0, xv, acc[16]);
        acc[17] = CV(fma)(d1, xv, acc[17]);
    }
    float r[16];
    v16f h = CV(hsum16)(acc);
    __builtin_memcpy(r, &h, sizeof r);
    for (int t = 0; t < 8; t++) {
        sample[t] = r[t];
        sample[sample_stride + t] = r[8 + t];
    }
    sample[8] = CV(hsum)(acc[16]);
    sample[sample_stride + 8] = CV(hsum)(acc[17]);
}

CV_WEIGHT_BLOCK(1, 9)
CV_WEIGHT_BLOCK(2, 1)
CV_WEIGHT_BLOCK(1, 1)

static CV_NO_MEMCPY void CV(conv_weight_gradient)(float *dweight, const float *dy, const float *x, size_t batch,
                                                  const struct cv_geometry *g, float *planes, float *dygrid,
                                                  float *sample, const long *off) {
    long per_oc = g->c * g->taps;
    for (size_t n = 0; n < batch; n++) {
        CV(load_planes)(planes, x + (long)n * g->c * g->h * g->w, g);
        // dy (OC, OH, OW) onto the grid; its columns past OW stay 0 from the allocation.
        const float *dyn = dy + (long)n * g->oc * g->oh * g->ow;
        for (long o = 0; o < g->oc; o++) {
            for (long oy = 0; oy < g->oh; oy++) {
                const float *src = dyn + (o * g->oh + oy) * g->ow;
                float *dst = dygrid + o * g->grid + oy * g->wq;
                for (long ox = 0; ox < g->ow; ox++) dst[ox] = src[ox];
            }
        }
        for (long c = 0; c < g->c; c++) {
            const float *in = planes + c * g->chan_stride;
            for (long o = 0; o < g->oc;) {
                long ob = g->oc - o >= 2 ? 2 : 1;
                const float *d = dygrid + o * g->grid;
                float *out = sample + o * per_oc + c * g->taps;
                long t = 0;
                for (; t + 9 <= g->taps; t += 9) {
                    if (ob == 2) CV(weight_block_2_9)(out + t, per_oc, d, g->grid, in, off + t);
                    else CV(weight_block_1_9)(out + t, per_oc, d, g->grid, in, off + t);
                }
                for (; t < g->taps; t++) {
                    if (ob == 2) CV(weight_block_2_1)(out + t, per_oc, d, g->grid, in, off + t);
                    else CV(weight_block_1_1)(out + t, per_oc, d, g->grid, in, off + t);
                }
                o += ob;
            }
        }
        for (long i = 0; i < g->oc * per_oc; i++) dweight[i] += sample[i];
    }
}
