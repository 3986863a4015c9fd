// The channel-vectorised direct convolution of CKernelsConv.h: vectors over 16 output
// channels, for the small planes (2×2 to 7×7) of ResNet's wide stages, where the grid kernel
// (ConvKernels.c) would spend most of each 16-float vector on padding columns and sgemm
// would pack as much as it multiplies (N = 4-49 pixels per image).
//
// Layout. Every sample's input planes are copied once into zero-padded planes of hp × wp
// floats. Weight row r = c·k² + ky·k + kx of output channel o is read at (o / 16, r, o mod 16)
// of a packed copy, so one 16-float load gives a row for 16 output channels; the input value
// of output pixel (oy, ox) at row r is one float, at (oy·s + ky)·wp + ox·s + kx of plane c,
// broadcast to the 16 lanes. Pixels of a forward block may come from several samples: a
// block of 2 × 16 channels × 10 pixels needs 2 weight loads and 10 broadcasts for 20 fused
// multiply-adds, with no im2col matrix and no packing per image.
//
// The forward pass sums in the grid kernel's order (bias, then c, then (ky, kx), padding
// terms w·0), so the two direct kernels give the same bits. The weight gradient vectorises
// over output channels too: each weight is one chain of fused multiply-adds from its value,
// over the samples in order and, within a sample, the output pixels in row order.
#include <stdlib.h>
#include <string.h>

#include "CKernels.h"
#include "ThreadScratch.h"
#include "ConvTranspose.h"

// Each ISA path passes vectors by value only between its own static functions, compiled with
// the same target, so the ABI clang warns about (-Wpsabi) is never crossed.
#pragma clang diagnostic ignored "-Wpsabi"
typedef float v16f __attribute__((vector_size(64)));

struct cc_geometry {
    long c, oc, h, w, k, s, p;
    long cs;              // floats from one pixel of the padded input to the next (cc_channel_stride)
    long hp, wp, oh, ow;
    long opix;            // oh·ow
    long plane;           // hp·wp: floats per padded input plane
    long taps, rows;      // k², c·k²
    long units;           // ⌈OC / 16⌉
};

/// Floats per pixel of a channel-last padded copy of c channels: c, plus 16 when c is a
/// multiple of 32. A pixel's channels then span an odd number of 64-byte lines, so the taps of a
/// block (pixels 2 KB apart for 512 channels) fall in different L1 sets instead of two: with
/// 2 KB the forward and weight-gradient blocks of the 512-channel layers ran at half speed on
/// conflict misses. The 16 extra floats are never read.
static long cc_channel_stride(long c) { return c % 32 == 0 ? c + 16 : c; }

static struct cc_geometry cc_geometry(const struct loom_conv_shape *s) {
    struct cc_geometry g;
    g.c = s->in_channels;
    g.oc = s->out_channels;
    g.h = s->height;
    g.w = s->width;
    g.k = s->kernel;
    g.s = s->stride;
    g.p = s->padding;
    g.cs = cc_channel_stride(g.c);
    g.hp = g.h + 2 * g.p;
    g.wp = g.w + 2 * g.p;
    g.oh = (g.hp - g.k) / g.s + 1;
    g.ow = (g.wp - g.k) / g.s + 1;
    g.opix = g.oh * g.ow;
    g.plane = g.hp * g.wp;
    g.taps = g.k * g.k;
    g.rows = g.c * g.taps;
    g.units = (g.oc + 15) / 16;
    return g;
}

/// One run of the forward block loop over a list of output pixels: pixel j reads the padded
/// input at xp + pin[j] + roff[r] for its rows r, and its channel o goes to
/// out[pout[j] + o·out_plane]. The weights are packed (units, rows, 16), the bias (units·16).
struct cc_pass {
    long oc, units, rows;
    // With a source, wpack has room for CC_OCV units, packed from the source as they are
    // needed (flipped or not); without, it holds every unit.
    float *wpack;
    const float *source;
    int flipped;
    long taps;
    const float *bpack;
    const long *roff;
    const float *xp;
    long pixels;
    const long *pin, *pout;
    float *out;
    long out_plane;
    // The sums between row chunks: room for the pixels rounded up to a block, CC_OCV·16 each.
    float *partial;
    // Without padding terms (cc_classes): the pixels' classes, pin and pout grouped by class.
    long classes;
    const struct cc_class *cls;
};

/// The output pixels that read the same taps inside the plane (the same ranges of ky and
/// kx), pixels j0 to j0 + pixels − 1 of the pass, and their rows: the weights at
/// w + rw[i] and the input at a pixel's start + ro[i] for i < rows, the rows c·k² + ky·k + kx
/// in increasing order without those that read only padding.
struct cc_class {
    long j0, pixels, rows;
    const long *rw, *ro;
};

/// Rows per chunk of a forward pass with more than CC_CHUNK_ABOVE rows (run_pass): 1152 rows
/// of a pair of units are 147 KB of packed weights, which stay in L2 while every pixel reads them.
#ifndef CC_CHUNK_ROWS
#define CC_CHUNK_ROWS 1152
#endif
#ifndef CC_CHUNK_ABOVE
#define CC_CHUNK_ABOVE 2304
#endif

/// Where output pixel j (of all samples, (n, oy, ox) in order) starts in the padded input.
static inline long cc_pixel_offset(const struct cc_geometry *g, long j) {
    long n = j / g->opix, pix = j % g->opix;
    return n * g->cs * g->plane + ((pix / g->ow) * g->s * g->wp + (pix % g->ow) * g->s) * g->cs;
}

/// roff[r] for r = c·k² + ky·k + kx: the offset of row r from a pixel's start.
static void cc_row_offsets(long *roff, const struct cc_geometry *g) {
    for (long c = 0; c < g->c; c++) {
        for (long ky = 0; ky < g->k; ky++) {
            for (long kx = 0; kx < g->k; kx++) roff[(c * g->k + ky) * g->k + kx] = (ky * g->wp + kx) * g->cs + c;
        }
    }
}

/// The calling thread's channel scratch of at least `bytes`, contents undefined
/// (ThreadScratch.h); NULL when out of memory.
static void *cc_scratch(size_t bytes) { return loom_thread_scratch(LOOM_SCRATCH_CHANNEL, bytes); }

#define LOOM_SUFFIX sse2
#define CC_OCV 1
#define CC_PB 2
#define CC_PBI 2
#define CC_TB 2
#include "ChannelConvBodies.h"
#undef CC_OCV
#undef CC_PB
#undef CC_PBI
#undef CC_TB
#undef LOOM_SUFFIX

#pragma clang attribute push(__attribute__((target("avx,avx2,fma"))), apply_to = function)
#define LOOM_SUFFIX avx2
#define CC_OCV 1
#define CC_PB 5
#define CC_PBI 4
#define CC_TB 5
#include "ChannelConvBodies.h"
#undef CC_OCV
#undef CC_PB
#undef CC_PBI
#undef CC_TB
#undef LOOM_SUFFIX
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx,avx2,fma,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#define LOOM_SUFFIX avx512
#define CC_OCV 2
#define CC_PB 10
#define CC_PBI 8
#define CC_TB 9
#include "ChannelConvBodies.h"
#undef CC_OCV
#undef CC_PB
#undef CC_PBI
#undef CC_TB
#undef LOOM_SUFFIX
#pragma clang attribute pop

/// The bodies of the path CKernels runs: the path's, except AVX2 without FMA (SSE2's, the
/// same bits).
struct cc_body {
    void (*load_padded)(float *xp, const float *x, size_t batch, long c, long cs, long h, long w, long top,
                        long left, long rows, long wp);
    void (*run_pass)(const struct cc_pass *ps, float *tmp);
    void (*weight_gradient)(float *dweight, float *dwt, const float *dyt, size_t batch, const struct cc_geometry *g,
                            const float *xp, const long *roff, const long *pixoff, const unsigned *mask);
};

static struct cc_body cc_body(void) {
    int path = loom_kernels_path();
    if (path == LOOM_PATH_AVX2 && !(loom_cpu_features() & LOOM_CPU_FMA)) path = LOOM_PATH_SSE2;
    switch (path) {
    case LOOM_PATH_AVX512:
        return (struct cc_body){load_padded_avx512, run_pass_avx512,
                                conv_weight_gradient_channels_avx512};
    case LOOM_PATH_AVX2:
        return (struct cc_body){load_padded_avx2, run_pass_avx2, conv_weight_gradient_channels_avx2};
    default:
        return (struct cc_body){load_padded_sse2, run_pass_sse2, conv_weight_gradient_channels_sse2};
    }
}

/// Room for a forward block's outputs on any path: CC_PB pixels × CC_OCV units of 16.
#define CC_TMP_FLOATS (10 * 2 * 16)
/// Room for a pass's sums between row chunks: `pixels` rounded up to any path's block.
#define CC_PARTIAL_FLOATS(pixels) ((size_t)((pixels) + 10) * 2 * 16)

/// The taps of output row (or column) o that read inside the plane: k0 to k1.
static void cc_tap_range(long o, long s, long p, long n, long k, long *k0, long *k1) {
    long lo = p - o * s, hi = n - 1 + p - o * s;
    *k0 = lo > 0 ? lo : 0;
    *k1 = hi < k - 1 ? hi : k - 1;
}

/// At most this many pixel classes (distinct row ranges × distinct column ranges).
#define CC_MAX_CLASSES 16

/// Whether a forward pass skips its padding terms: when at most 3/4 of its (pixel, tap)
/// pairs read inside the plane (3×3 padding-1 layers on 2×2 planes: 16 of 36; 4×4: 100 of
/// 144; the 4×4 → 2×2 stride-2 layers: 25 of 36) in at most CC_MAX_CLASSES classes, and no
/// bias is −0 (a chain from −0 is the one sum a padding term w·(+0) can change, to +0).
/// Otherwise 0. `ry`, `rx` receive the distinct ranges (k0, k1) of rows and columns and `cy`,
/// `cx` each output row's and column's range index.
static long cc_class_count(const struct cc_geometry *g, const float *bias, long *ry, long *rx, long *cy, long *cx,
                           long *columns) {
    if (g->oh > 64 || g->ow > 64) return 0;
    long ny = 0, nx = 0, real_y = 0, real_x = 0;
    for (int axis = 0; axis < 2; axis++) {
        long n = axis ? g->ow : g->oh, size = axis ? g->w : g->h, *r = axis ? rx : ry, *c = axis ? cx : cy;
        long *count = axis ? &nx : &ny, *real = axis ? &real_x : &real_y;
        for (long o = 0; o < n; o++) {
            long k0, k1, i;
            cc_tap_range(o, g->s, g->p, size, g->k, &k0, &k1);
            *real += k1 >= k0 ? k1 - k0 + 1 : 0;
            for (i = 0; i < *count && (r[2 * i] != k0 || r[2 * i + 1] != k1); i++) {}
            if (i == *count) {
                if (i == CC_MAX_CLASSES) return 0;
                r[2 * i] = k0, r[2 * i + 1] = k1, ++*count;
            }
            c[o] = i;
        }
    }
    if (ny * nx > CC_MAX_CLASSES || 4 * real_y * real_x > 3 * g->opix * g->taps) return 0;
    for (long o = 0; bias && o < g->oc; o++) {
        if (bias[o] == 0 && __builtin_signbit(bias[o])) return 0;
    }
    *columns = nx;
    return ny * nx;
}

static int cc_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                      const struct loom_conv_shape *shape, int flipped) {
    struct cc_geometry g = cc_geometry(shape);
    struct cc_body body = cc_body();
    long pixels = (long)batch * g.opix;
    long ry[2 * CC_MAX_CLASSES], rx[2 * CC_MAX_CLASSES], cy[64], cx[64];
    long nx = 0, classes = cc_class_count(&g, bias, ry, rx, cy, cx, &nx);
    size_t xp_floats = batch * (size_t)(g.cs * g.plane);
    size_t packed = (size_t)(2 * g.rows * 16);
    size_t floats = xp_floats + packed + (size_t)(g.units * 16) + CC_TMP_FLOATS + CC_PARTIAL_FLOATS(pixels);
    size_t class_longs = (size_t)(2 * classes * g.rows);
    float *scratch = cc_scratch(floats * sizeof(float) + (size_t)(g.rows + 2 * pixels) * sizeof(long) +
                                class_longs * sizeof(long));
    if (!scratch) return 0;
    float *xp = scratch, *wpack = xp + xp_floats, *bpack = wpack + packed, *tmp = bpack + g.units * 16;
    float *partial = tmp + CC_TMP_FLOATS;
    long *roff = (long *)(partial + CC_PARTIAL_FLOATS(pixels)), *pin = roff + g.rows, *pout = pin + pixels;
    memset(xp, 0, xp_floats * sizeof(float));
    cc_row_offsets(roff, &g);
    struct cc_class cls[CC_MAX_CLASSES];
    if (!classes) {
        for (long j = 0; j < pixels; j++) {
            pin[j] = cc_pixel_offset(&g, j);
            pout[j] = (j / g.opix) * g.oc * g.opix + j % g.opix;
        }
    } else {
        // Class (iy, ix) of the row and column ranges: its pixels in (n, oy, ox) order, its
        // rows c·k² + ky·k + kx in order for the ky and kx of its ranges.
        long *rw = pout + pixels, *ro = rw + classes * g.rows, j = 0;
        for (long ci = 0; ci < classes; ci++) {
            long iy = ci / nx, ix = ci % nx, rows = 0;
            cls[ci].j0 = j;
            for (size_t n = 0; n < batch; n++) {
                for (long pix = 0; pix < g.opix; pix++) {
                    if (cy[pix / g.ow] != iy || cx[pix % g.ow] != ix) continue;
                    long q = (long)n * g.opix + pix;
                    pin[j] = cc_pixel_offset(&g, q);
                    pout[j++] = (long)n * g.oc * g.opix + pix;
                }
            }
            cls[ci].pixels = j - cls[ci].j0;
            cls[ci].rw = rw, cls[ci].ro = ro;
            for (long c = 0; c < g.c; c++) {
                for (long ky = ry[2 * iy]; ky <= ry[2 * iy + 1]; ky++) {
                    for (long kx = rx[2 * ix]; kx <= rx[2 * ix + 1]; kx++, rows++) {
                        long r = (c * g.k + ky) * g.k + kx;
                        rw[rows] = 16 * r;
                        ro[rows] = roff[r];
                    }
                }
            }
            cls[ci].rows = rows;
            rw += rows, ro += rows;
        }
    }
    for (long o = 0; o < g.units * 16; o++) bpack[o] = bias && o < g.oc ? bias[o] : 0;
    body.load_padded(xp, x, batch, g.c, g.cs, g.h, g.w, g.p, g.p, g.hp, g.wp);
    struct cc_pass ps = {g.oc, g.units, g.rows, wpack, weight, flipped, g.taps, bpack, roff, xp, pixels, pin, pout, y, g.opix,
                         partial, classes, cls};
    body.run_pass(&ps, tmp);
    return 1;
}

int loom_conv_forward_channels(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                               const struct loom_conv_shape *shape) {
    return cc_forward(y, x, weight, bias, batch, shape, 0);
}

int loom_conv_input_gradient_channels(float *dx, const float *dy, const float *weight, size_t batch,
                                      const struct loom_conv_shape *shape) {
    struct loom_conv_shape t = loom_conv_transposed_shape(shape);
    return cc_forward(dx, dy, weight, NULL, batch, &t, 1);
}

int loom_conv_input_gradient_strided(float *dx, const float *dy, const float *weight, size_t batch,
                                     const struct loom_conv_shape *shape) {
    // The geometry of the convolution itself: C → OC, output OH × OW.
    struct cc_geometry g = cc_geometry(shape);
    struct cc_body body = cc_body();
    long s = g.s, k = g.k, p = g.p;
    // Input row iy is reached by the taps ky ≡ iy + p (mod s), ky = a + m·s, from output row
    // oy = q − m, q = ⌊(iy + p) / s⌋. dy is padded so that every such oy is a row: `lead`
    // rows above (m up to ⌊(k − 1) / s⌋), and below up to q's largest value.
    long lead = (k - 1) / s;
    long ydim = lead + ((g.h - 1 + p) / s + 1 > g.oh ? (g.h - 1 + p) / s + 1 : g.oh);
    long xdim = lead + ((g.w - 1 + p) / s + 1 > g.ow ? (g.w - 1 + p) / s + 1 : g.ow);
    long cunits = (g.c + 15) / 16, taps_max = ((k + s - 1) / s) * ((k + s - 1) / s);
    long pixels_max = (long)batch * ((g.h + s - 1) / s) * ((g.w + s - 1) / s);
    long ocs = cc_channel_stride(g.oc);
    size_t dyp_floats = batch * (size_t)(ydim * xdim * ocs);
    size_t packed = (size_t)(cunits * g.oc * taps_max * 16);
    size_t floats = dyp_floats + packed + (size_t)(cunits * 16) + CC_TMP_FLOATS + CC_PARTIAL_FLOATS(pixels_max);
    size_t longs = (size_t)(g.oc * taps_max + 2 * pixels_max);
    float *scratch = cc_scratch(floats * sizeof(float) + longs * sizeof(long));
    if (!scratch) return 0;
    float *dyp = scratch, *wpack = dyp + dyp_floats, *zero_bias = wpack + packed, *tmp = zero_bias + cunits * 16;
    memset(dyp, 0, dyp_floats * sizeof(float));
    memset(zero_bias, 0, (size_t)cunits * 16 * sizeof(float));
    float *partial = tmp + CC_TMP_FLOATS;
    long *roff = (long *)(partial + CC_PARTIAL_FLOATS(pixels_max)), *pin = roff + g.oc * taps_max, *pout = pin + pixels_max;
    body.load_padded(dyp, dy, batch, g.oc, ocs, g.oh, g.ow, lead, lead, ydim, xdim);
    // One pass per phase (a, b): the input pixels with (iy + p) mod s = a, (ix + p) mod s = b,
    // rows (o, m, m′) for o in order, then the taps ky = a + m·s, kx = b + m′·s in order.
    for (long a = 0; a < s; a++) {
        for (long b = 0; b < s; b++) {
            long my = a < k ? (k - 1 - a) / s + 1 : 0, mx = b < k ? (k - 1 - b) / s + 1 : 0;
            long rows = g.oc * my * mx;
            for (long o = 0, r = 0; o < g.oc; o++) {
                for (long m = 0; m < my; m++) {
                    for (long m2 = 0; m2 < mx; m2++, r++) roff[r] = -(m * xdim + m2) * ocs + o;
                }
            }
            // Weights (C / 16, rows, 16): w[o, c, a + m·s, b + m′·s] in lane c mod 16.
            for (long u = 0; u < cunits; u++) {
                long lanes = g.c - u * 16 < 16 ? g.c - u * 16 : 16;
                float *dst = wpack + u * rows * 16;
                for (long o = 0; o < g.oc; o++) {
                    for (long m = 0; m < my; m++) {
                        for (long m2 = 0; m2 < mx; m2++, dst += 16) {
                            for (long l = lanes; l < 16; l++) dst[l] = 0;
                            for (long l = 0; l < lanes; l++) {
                                dst[l] = weight[((o * g.c + u * 16 + l) * k + a + m * s) * k + b + m2 * s];
                            }
                        }
                    }
                }
            }
            long pixels = 0;
            for (size_t n = 0; n < batch; n++) {
                for (long iy = (a - p % s + s) % s; iy < g.h; iy += s) {
                    for (long ix = (b - p % s + s) % s; ix < g.w; ix += s, pixels++) {
                        long qy = (iy + p) / s, qx = (ix + p) / s;
                        pin[pixels] = (((long)n * ydim + qy + lead) * xdim + qx + lead) * ocs;
                        pout[pixels] = (long)n * g.c * g.h * g.w + iy * g.w + ix;
                    }
                }
            }
            if (pixels == 0) continue;
            struct cc_pass ps = {g.c, cunits, rows, wpack, NULL, 0, 0, zero_bias, roff, dyp, pixels, pin, pout, dx, g.h * g.w,
                                 partial};
            body.run_pass(&ps, tmp);
        }
    }
    return 1;
}

int loom_conv_weight_gradient_channels(float *dweight, const float *dy, const float *x, size_t batch,
                                       const struct loom_conv_shape *shape) {
    struct cc_geometry g = cc_geometry(shape);
    struct cc_body body = cc_body();
    size_t xp_floats = batch * (size_t)(g.cs * g.plane);
    size_t dyt_floats = batch * (size_t)(g.opix * g.units * 16);
    size_t dwt_floats = (size_t)(2 * g.rows * 16);
    size_t floats = xp_floats + dyt_floats + dwt_floats;
    float *scratch = cc_scratch(floats * sizeof(float) + (size_t)(g.rows + g.opix) * sizeof(long) +
                                (size_t)g.opix * sizeof(unsigned));
    if (!scratch) return 0;
    float *xp = scratch, *dyt = xp + xp_floats, *dwt = dyt + dyt_floats;
    long *roff = (long *)(dwt + dwt_floats), *pixoff = roff + g.rows;
    unsigned *mask = (unsigned *)(pixoff + g.opix);
    memset(xp, 0, xp_floats * sizeof(float));
    cc_row_offsets(roff, &g);
    for (long pix = 0; pix < g.opix; pix++) pixoff[pix] = ((pix / g.ow) * g.s * g.wp + (pix % g.ow) * g.s) * g.cs;
    // Pixel masks of the taps inside the plane, when a kernel of at most 32 taps reads padding
    // in more than a quarter of its (pixel, tap) pairs (cc_class_count's rule): the terms dy·0
    // are then left out, which changes no chain that starts from a gradient other than −0.
    long ry[2 * CC_MAX_CLASSES], rx[2 * CC_MAX_CLASSES], cy[64], cx[64], nx = 0;
    int masked = g.taps <= 32 && cc_class_count(&g, NULL, ry, rx, cy, cx, &nx) > 0;
    for (long pix = 0; masked && pix < g.opix; pix++) {
        long ky0, ky1, kx0, kx1;
        cc_tap_range(pix / g.ow, g.s, g.p, g.h, g.k, &ky0, &ky1);
        cc_tap_range(pix % g.ow, g.s, g.p, g.w, g.k, &kx0, &kx1);
        mask[pix] = 0;
        for (long ky = ky0; ky <= ky1; ky++) {
            for (long kx = kx0; kx <= kx1; kx++) mask[pix] |= 1u << (ky * g.k + kx);
        }
    }
    // dy (N, OC, OH, OW) as (N, OH·OW, units·16), the lanes past OC zero (they only reach
    // lanes of dwt that are never copied back, but stale floats could be slow denormals).
    long dy_stride = g.units * 16;
    if (g.oc % 16) memset(dyt, 0, dyt_floats * sizeof(float));
    for (size_t n = 0; n < batch; n++) {
        const float *src = dy + (long)n * g.oc * g.opix;
        float *dst = dyt + (long)n * g.opix * dy_stride;
        for (long o = 0; o < g.oc; o++) {
            for (long pix = 0; pix < g.opix; pix++) dst[pix * dy_stride + o] = src[o * g.opix + pix];
        }
    }
    body.load_padded(xp, x, batch, g.c, g.cs, g.h, g.w, g.p, g.p, g.hp, g.wp);
    body.weight_gradient(dweight, dwt, dyt, batch, &g, xp, roff, pixoff, masked ? mask : NULL);
    return 1;
}
